// The reuse sandbox's supervisor (vm/reuse.h): owns one guest's qemu, boots it (with a retry of a
// hung boot), then serves attach clients on the control socket until it is stopped. Its boot is
// in vm/supervisor.cc, its serving in vm/supervisor_serve.cc; the janitor (vm/janitor.h) runs it.
#pragma once

#include <sys/types.h>

#include <boost/process/child.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "vm/channel.h"
#include "vm/error.h"
#include "vm/guest_state.h"
#include "vm/qemu.h"
#include "vm/reuse.h"
#include "vm/timing.h"
#include "vm/unix_io.h"

namespace conform::vm {

inline constexpr std::chrono::milliseconds kStopGrace{5000};  // POWEROFF -> qemu gone, else SIGKILL

struct SupervisorConfig {
  std::filesystem::path dir;
  QemuConfig qemu;
  GuestInfo info;
  std::chrono::milliseconds boot_timeout{30000};
  int boot_retries = 1;
  int lock_fd = -1;
  int ready_fd = -1;  // to `vm start`: LOG/READY/FAIL/TAIL lines
};

class Supervisor {
 public:
  explicit Supervisor(SupervisorConfig config) : c_(std::move(config)), info_(c_.info) {}
  int Run();

 private:
  enum class State { kBooting, kReady, kRunning, kDraining, kStopping };

  void Log(const std::string& line) {
    std::fprintf(stderr, "[%8.3f] %s\n", Seconds(Clock::now() - born_), line.c_str());
    std::fflush(stderr);
  }
  void Tell(const std::string& line) {  // to `vm start`, while it waits
    if (c_.ready_fd >= 0 && !WriteAll(c_.ready_fd, line + "\n")) starter_gone_ = true;
  }
  void SetState(State s);
  void SaveMeta() {
    try {
      WriteMeta(c_.dir, info_);
    } catch (const VmError& e) {
      Log(std::string("meta.json: ") + e.what());
    }
  }
  bool StartQemu(int attempt);
  void KillQemu();
  bool QemuExited();
  // Boots (with retries); true when READY was seen. Otherwise `failure_` says why.
  bool Boot();
  enum class BootWait { kReady, kTimedOut, kExited, kStopped };
  BootWait WaitForReady(Clock::time_point qemu_start);
  void Serve();
  void OnGuestBytes(std::string_view data);
  void OnClientBytes();
  void OnAccept();
  void StartRun();
  void DropClient(const std::string& why);
  void BeginStop(const std::string& why);
  void FinishRun();

  SupervisorConfig c_;
  GuestInfo info_;
  const Clock::time_point born_ = Clock::now();
  State state_ = State::kBooting;
  std::unique_ptr<boost::process::child> qemu_;
  Fd pidfd_, guest_, listen_, client_, sigfd_;
  bool qemu_gone_ = false, starter_gone_ = false;
  std::string failure_;
  ChannelScanner scanner_;
  std::string client_request_;
  bool client_accepted_ = false;
  Clock::time_point client_deadline_{}, stop_deadline_{};
  bool stop_requested_ = false;
  std::string boot_line_buffer_;
};

}  // namespace conform::vm
