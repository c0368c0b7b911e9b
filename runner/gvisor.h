// The gVisor target: every case runs inside its own `runsc --network=none do` sandbox, on
// gVisor's own implementation of network namespaces (a second implementation of the same ABI).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace conform {

struct GvisorTarget {
  // What the executor puts before the case's sandbox launcher: the launcher's --private-tmpfs
  // mode (runsc's state goes to a tmpfs that dies with runsc, so even a SIGKILL leaves nothing on
  // the host), then runsc with --network=none (never another mode: the default one rewrites the
  // host's NAT and forwarding settings) and --ignore-cgroups (nothing under /sys/fs/cgroup), then
  // `do`.
  std::vector<std::string> wrapper;
  std::string runsc_version;   // `runsc --version`'s first line
  std::string kernel_release;  // what `uname -r` says inside gVisor
};

// Finds runsc on PATH, proves that it runs a command here through `launcher`
// (netns-conform-sandbox), and reads its version and the release it reports. The tmpfs is
// mounted on <cache root>/runsc-state (made 0755 when missing, always empty on the host): runsc's
// sandbox runs as an unprivileged user and must reach it, which a folder under the user's --out
// may not allow. Throws UsageError naming the problem.
GvisorTarget PrepareGvisor(const std::filesystem::path& launcher);

}  // namespace conform
