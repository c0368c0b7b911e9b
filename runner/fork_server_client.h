// The runner's side of the fork server (fixtures/fork_server.h): starts the suite binary once as
// the server, asks it for one case at a time, and turns its messages into events the executor
// waits on beside its signals.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fixtures/fd.h"

namespace boost::process {
class child;
}

namespace conform {

struct ForkServerEvent {
  enum class Kind { kStarted, kDone, kFailed };
  Kind kind;
  size_t token = 0;
  pid_t pid = -1;        // kStarted: the case's init, in the runner's PID namespace
  FileDescriptor pidfd;  // kStarted
  int wait_status = 0;   // kDone
  std::string error;     // kFailed
};

class ForkServer {
 public:
  // Starts `suite_binary --netns_conform_serve_fd=N` with `env` (the cases inherit it) and waits
  // for it to be ready. Its own output goes to `log`. Returns nullptr when the suite binary says
  // the kernel lacks what it needs (clone3), with the reason in *unsupported. Throws
  // InfrastructureError when it cannot be started or dies before it is ready.
  // It keeps `spares` sandboxes ready (the runner's -j).
  static std::unique_ptr<ForkServer> Start(const std::filesystem::path& suite_binary,
                                           const std::map<std::string, std::string>& env,
                                           const std::filesystem::path& log, int spares,
                                           std::string* unsupported);
  ~ForkServer();  // closes the socket (the server then kills what is left) and reaps it

  // Polled by the executor: readable when a message (or the server's end) is there.
  int fd() const { return sock_.get(); }

  // Asks for one case. False when the server is gone.
  bool Launch(size_t token, const std::string& id, bool new_pid_ns, int log_fd, int result_fd);

  // Every message waiting now. Sets dead() when the server has gone.
  std::vector<ForkServerEvent> Receive();
  bool dead() const { return dead_; }
  // How the server ended ("was killed by SIGKILL", "exited with status 2"), once dead().
  std::string DeathText();

 private:
  ForkServer() = default;
  FileDescriptor sock_;
  std::unique_ptr<boost::process::child> process_;
  bool dead_ = false;
};

}  // namespace conform
