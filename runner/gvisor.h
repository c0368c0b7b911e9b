// The gVisor target: every case runs inside its own `runsc --network=none do` sandbox, on
// gVisor's own implementation of network namespaces (a second implementation of the same ABI).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace conform {

struct GvisorTarget {
  // What the executor puts before the sandbox launcher: runsc with --network=none (never another
  // mode: the default one rewrites the host's NAT and forwarding settings) and --ignore-cgroups
  // (nothing is made under /sys/fs/cgroup), then `do`.
  std::vector<std::string> wrapper;
  std::string runsc_version;   // `runsc --version`'s first line
  std::string kernel_release;  // what `uname -r` says inside gVisor
};

// Finds runsc on PATH, proves that it runs a command on this machine, and reads its version and
// the release it reports. `state_dir` becomes runsc's TMPDIR (its per-sandbox state folder goes
// there, so a runsc killed mid-case leaves nothing in the host's /tmp); the caller hands the same
// TMPDIR to every case. Throws UsageError naming the problem (runsc missing or not working).
GvisorTarget PrepareGvisor(const std::filesystem::path& state_dir);

}  // namespace conform
