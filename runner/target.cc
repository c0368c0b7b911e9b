#include "runner/target.h"

#include "runner/plan.h"
#include "vm/kernel_cache.h"

namespace conform {

std::vector<std::string> KnownTargetNames() {
  std::vector<std::string> names{"host", "gvisor"};
  for (const auto& kernel : vm::KnownKernels()) names.push_back(kernel.name);
  names.push_back("no-netns");  // built, not fetched: `netns-conform kernel build no-netns`
  return names;
}

Target ResolveTarget(const std::string& name) {
  if (name == "host") return {name, TargetKind::kHost};
  if (name == "gvisor") return {name, TargetKind::kGvisor};
  const auto names = KnownTargetNames();
  for (const auto& known : names)
    if (known == name) return {name, TargetKind::kVm};
  std::string list;
  for (const auto& known : names) list += (list.empty() ? "" : ", ") + known;
  throw UsageError("unknown target '" + name + "' (known: " + list + ")");
}

}  // namespace conform
