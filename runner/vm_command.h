// `netns-conform run --vm NAME | --vm-kernel PATH`: the whole suite inside a disposable qemu
// guest booting the chosen kernel, with the same reports as in place; and `netns-conform kernel`.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "runner/run_command.h"
#include "vm/kernel_cache.h"

namespace conform {

struct VmSelection {
  std::string name;         // a kernel of `netns-conform kernel list` (--vm)
  std::string kernel_path;  // or a user's kernel (--vm-kernel), with optional
  std::string modules_dir;  //   --vm-modules
  std::string config_path;  //   --vm-config
  std::string machine;      // "", "microvm" or "q35"
  double boot_timeout_s = 60;

  bool chosen() const { return !name.empty() || !kernel_path.empty(); }
};

// The kernel `selection` names: the user's files, the built no-netns kernel, or a named Debian
// kernel from the cache (fetched on first use). UsageError or vm::VmError when there is none.
vm::Kernel ResolveKernel(const VmSelection& selection);

// Exit status as RunCommand's; 2 also when the guest never delivered results (the reports are
// still written, every case not heard from as MISS with the reason and the console's tail).
int RunVmCommand(const RunOptions& options, const VmSelection& vm);

// `netns-conform run --attach NAME`: the suite in a guest kept booted by `vm start NAME` (the
// reuse sandbox), with the same reports as `run --vm`; environment.sandbox is "vm-reuse",
// vm_guest names the guest and vm_guest_run numbers the run on it. Exit status as RunVmCommand.
int RunAttachCommand(const RunOptions& options, const std::string& name);

// `netns-conform vm start NAME (--vm KERNEL | --vm-kernel PATH ...)`: boots a guest in the
// background and returns once it is ready.
struct VmStartOptions {
  std::string name;
  VmSelection vm;
  std::filesystem::path suite_binary;  // empty: the one beside the runner
};
int VmStartCommand(const VmStartOptions& options);
// `netns-conform vm list [--json]`
int VmListCommand(bool json);
// `netns-conform vm stop NAME`
int VmStopCommand(const std::string& name, double timeout_s);

// `netns-conform kernel list`
int KernelListCommand(bool query_apt);
// `netns-conform kernel build no-netns`
int KernelBuildCommand(const std::string& name, bool force);

}  // namespace conform
