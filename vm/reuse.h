// The reuse sandbox: one qemu guest kept booted, the suite run in it again and again without a
// reboot (`netns-conform vm start NAME` / `run --attach NAME` / `vm stop NAME` / `vm list`).
//
// Processes. `vm start` (StartGuest) prepares the kernel and initramfs as a one-shot run does
// (PlanGuest), then forks a detached pair and returns once the guest is ready:
//   janitor    (comm "ncvm-janitor")   setsid, child subreaper; parent of the supervisor. When
//                                      the supervisor ends, however it ends (SIGKILL too), it
//                                      kills what is left of the supervisor's process group,
//                                      reaps it and removes the state folder.
//   supervisor (comm "ncvm-supervise") its own process group; owns qemu (PR_SET_PDEATHSIG
//                                      SIGKILL, same process group), holds the state folder's
//                                      lock, relays runs between attach clients and the guest,
//                                      removes the state folder when qemu exits.
//   qemu                               the guest: the one-shot's machine, with the channel port on
//                                      a unix socket (server=on,wait=off) the supervisor holds.
//
// State folder ($NETNS_CONFORM_VM_DIR, default /run/netns-conform/vm, then NAME/; 0700):
//   lock          flock(2)ed by the supervisor for its whole life: a folder whose lock can be
//                 taken is stale and is removed by whoever sees it (list, start, attach, stop)
//   meta.json     GuestInfo as JSON, rewritten (temp + rename) on every change of state
//   control.sock  the supervisor's socket for attach clients (one run at a time)
//   guest.sock    qemu's end of the virtio-serial port netns-conform.results
//   console.log   the guest's ttyS0; console.boot.log: a copy up to READY
//   qemu.log      qemu's stdout/stderr;  supervisor.log: the supervisor's own lines
//   initrd        the initramfs with the serve flag, removed once qemu has loaded it
// A folder is claimed by renaming a complete ".new-<pid>" folder to NAME (atomic: two starts of
// one name cannot both win) and removed by renaming it to ".trash-<pid>-<n>" under its lock.
// Empty parent folders are removed too: nothing stays in /run once no guest runs.
//
// Attach protocol (control.sock, stream): the client sends
//   NCVM 1 RUN argc=<k>\n  then k lines, one runner argument each
// and gets "NCVM 1 ACCEPTED run=<n>\n" (or "NCVM 1 REFUSED <reason>\n" and the end), then the
// guest's bytes for that run as vm/channel.h reads them, RUNNING to END, and the end of the
// connection. "NCVM 1 ABORT\n" from the client during the run asks the guest's runner to stop
// (it still reports). A client that goes away mid-run aborts the run; the supervisor drains the
// guest's output to END and the guest is ready again. A connection that ends before END: the
// guest went away (crash, panic, `vm stop`).
//
// Where it lives: vm/guest_state.cc (state folders, meta.json, ListGuests, FindGuest),
// vm/guest_start_stop.cc (StartGuest, StopGuest), vm/janitor.cc, vm/supervisor.cc (boot) and
// vm/supervisor_serve.cc (the control socket and the runs), vm/attach_client.cc (AttachRun);
// ChannelScanner is in vm/channel.h.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vm/channel.h"
#include "vm/vm_run.h"

namespace conform::vm {

// $NETNS_CONFORM_VM_DIR, else /run/netns-conform/vm.
std::filesystem::path GuestStateRoot();

// 1 to 32 of [A-Za-z0-9._-], starting with a letter or digit.
bool ValidGuestName(const std::string& name);

struct GuestInfo {
  std::string name;
  std::string state;         // "booting", "ready", "running", "stopping"
  std::string kernel_label;  // what the user named: "debian-6.1-cloud" or a kernel's path
  std::string kernel_name, kernel_release, kernel_package, kernel_version;
  std::string kernel_config, kernel_config_source;
  std::string machine, accelerator, machine_note;
  int memory_mib = 0, cpus = 0;
  pid_t supervisor_pid = 0, janitor_pid = 0, qemu_pid = 0;
  // /proc/<pid>/stat starttime of each: a pid alone may have been reused
  unsigned long long supervisor_start = 0, janitor_start = 0, qemu_start = 0;
  double started_at = 0;  // Unix time of the supervisor's start
  double boot_s = 0;      // qemu start -> BOOTED
  double ready_s = 0;     // qemu start -> READY (run modules loaded, waiting for requests)
  int retries = 0;        // boots retried after a hang
  int runs = 0;           // runs finished (including aborted and drained ones)
  int current_run = 0;    // the run in progress, 0 when none
  std::string suite_binary, runner_binary;  // as copied into the guest at start
  std::string suite_stamp;                  // size and mtime of suite_binary then
  std::filesystem::path state_dir;          // not in meta.json

  double uptime_s() const;  // now - started_at
};

// meta.json's fields plus uptime_s and state_dir (`vm list --json`).
nlohmann::json GuestInfoToJson(const GuestInfo& guest);

struct GuestStartOptions {
  std::string name;
  std::string kernel_label;
  // kernel, runner and suite binaries, machine, accelerator, memory, cpus, guest_nic,
  // extra_cmdline, compression, boot_timeout, boot_retries, log. runner_args and out_dir are
  // not used; run_timeout neither (each attach has its own).
  VmRunOptions vm;
};

// Boots the guest in the background and returns once it is ready. VmError (one line) for a bad
// or taken name, anything PlanGuest refuses, a boot that failed (hung twice, panicked): then
// nothing is left behind. `console_tail` gets the console's last lines of a failed boot.
GuestInfo StartGuest(const GuestStartOptions& options, std::string* console_tail = nullptr);

// The running guests, by name; stale state folders found on the way are removed.
std::vector<GuestInfo> ListGuests();
// One running guest; nullopt when there is none of that name (a stale folder is removed).
std::optional<GuestInfo> FindGuest(const std::string& name);

// Stops a guest: SIGTERM to its supervisor, which powers the guest off (SIGKILL to qemu when it
// is running a case or does not go within 5 s) and removes the state folder; after `timeout`
// the supervisor is SIGKILLed (its janitor cleans up). Returns once the supervisor, the janitor
// and qemu are gone and the folder is removed. VmError when no guest of that name runs, or when
// something is still there after the escalation.
GuestInfo StopGuest(const std::string& name,
                    std::chrono::milliseconds timeout = std::chrono::seconds(20));

// A run request carries at most this many runner arguments, each at most this long.
inline constexpr int kMaxRunArgs = 256;
inline constexpr size_t kMaxRunArgBytes = 4096;

struct AttachOptions {
  std::string name;
  // Appended to `netns-conform run --out /results-<n> [--spare-nic <guest NIC>]` in the guest.
  std::vector<std::string> runner_args;
  std::filesystem::path out_dir;
  std::chrono::milliseconds run_timeout{1800000};  // then the guest is stopped
  std::function<bool()> should_stop;               // polled: true asks the guest to abort the run
  std::function<void(const std::string&)> log;
};

struct AttachResult {
  GuestInfo guest;  // as it was when the run was accepted
  int run = 0;      // this run's number on the guest (1 = the first after the boot)
  // outcome kCompleted / kRunnerFailed / kGuestDied / kTimedOut / kStopped, with the kernel
  // and machine fields taken from the guest, boot_s its boot, results and logs as a one-shot
  // run lays them out in out_dir (vm/console.log: the console during this run;
  // vm/console.boot.log: the guest's boot).
  VmRunResult result;
  double run_s = 0;  // request sent -> END (or the end)
};

// Runs the suite once in a running guest. VmError (one line) when no guest of that name runs,
// it is still booting, or another run is attached.
AttachResult AttachRun(const AttachOptions& options);

}  // namespace conform::vm
