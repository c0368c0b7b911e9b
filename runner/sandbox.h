// The in-place sandbox a case runs in: fresh mount, network and PID namespaces, private mount
// propagation, a fresh /proc and /sys, and a private tmpfs for /run/netns. Everything a case
// creates lives in these namespaces, so the kernel frees it when the case's processes die,
// however they die.
#pragma once

#include <string>
#include <vector>

#include "fixtures/case_sandbox.h"  // kSandboxSetupFailed, kInGvisorEnv

namespace conform {

struct SandboxOptions {
  // false for a case that declares `.initial_pid_ns` (fixtures/requirements.h): it runs in the
  // runner's own PID namespace, still in fresh mount and network namespaces. Without a PID
  // namespace whose death takes everything along, the case's keeper process becomes a child
  // subreaper in a process group of its own: everything the case leaves running (even a process
  // that left its session) is re-parented to it, and it kills all of that when the case ends or
  // when sandbox-exec dies (a timeout, an interruption, or the runner's own death).
  bool new_pid_ns = true;
};

// Runs argv inside a new sandbox and returns only on setup failure (then the caller exits with
// kSandboxSetupFailed). On success this process waits for the case and exits with its status,
// re-raising the signal that killed it.
[[noreturn]] void SandboxExec(const std::vector<std::string>& argv,
                              const SandboxOptions& options = {});

// The launcher flag that turns SandboxOptions::new_pid_ns off (before the `--`).
inline constexpr const char* kInitialPidNsFlag = "--initial-pid-ns";

// Execs argv in a new mount namespace where `dir` (an existing folder) is a fresh tmpfs and
// TMPDIR names it: what runsc keeps there (its per-sandbox state) lives only as long as the
// processes of that namespace, so even a SIGKILL leaves nothing behind on the host. Returns only
// on setup failure (then the caller exits with kSandboxSetupFailed).
[[noreturn]] void PrivateTmpfsExec(const std::string& dir, const std::vector<std::string>& argv);

}  // namespace conform
