// What `--target NAME` names: the running kernel ("host"), gVisor ("gvisor"), or a kernel the VM
// sandbox boots (a name of `netns-conform kernel list`).
#pragma once

#include <string>
#include <vector>

namespace conform {

enum class TargetKind { kHost, kGvisor, kVm };

struct Target {
  std::string name;
  TargetKind kind = TargetKind::kHost;
};

// Every name --target accepts, in the order `matrix` lists them by default.
std::vector<std::string> KnownTargetNames();

// Throws UsageError "unknown target 'NAME' (known: host, gvisor, ...)" for any other name.
Target ResolveTarget(const std::string& name);

}  // namespace conform
