// `netns-conform vm start|list|stop NAME` (the reuse sandbox's guests) and `netns-conform kernel
// list|build` (the kernels a guest can boot). See runner/vm_command.h.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>

#include "reports/apply_expectations.h"
#include "reports/json_report.h"
#include "reports/junit_report.h"
#include "reports/report_text.h"
#include "runner/plan.h"
#include "runner/run_expectations.h"
#include "runner/suite_features.h"
#include "runner/vm_command.h"
#include "vm/error.h"
#include "vm/kernel_build.h"
#include "vm/kernel_cache.h"
#include "vm/reuse.h"
#include "vm/vm_run.h"

namespace conform {

int VmStartCommand(const VmStartOptions& options) {
  if (geteuid() != 0)
    throw UsageError("must run as root: the guest's kernel cache and state need it (euid " +
                     std::to_string(geteuid()) + ")");
  const VmSelection& selection = options.vm;
  if (!vm::ValidGuestName(options.name))
    throw UsageError("bad guest name '" + options.name +
                     "': 1 to 32 of letters, digits, '.', '_', '-', starting with a letter or "
                     "digit");
  if (!selection.chosen()) throw UsageError("vm start needs --vm NAME or --vm-kernel PATH");
  if (!selection.machine.empty() && !vm::ParseMachine(selection.machine))
    throw UsageError("--vm-machine must be microvm or q35, not '" + selection.machine + "'");
  if (auto running = vm::FindGuest(options.name))
    throw UsageError("a guest named " + options.name + " is already running (kernel " +
                     running->kernel_label + ", supervisor pid " +
                     std::to_string(running->supervisor_pid) + ")");
  const auto suite_binary = SuiteBinaryOrDefault(options.suite_binary);

  vm::GuestStartOptions start;
  start.name = options.name;
  start.kernel_label = selection.kernel_path.empty() ? selection.name : selection.kernel_path;
  try {
    start.vm.kernel = ResolveKernel(selection);
  } catch (const vm::VmError& e) {
    throw UsageError(e.what());
  }
  start.vm.runner_binary = std::filesystem::read_symlink("/proc/self/exe");
  start.vm.suite_binary = suite_binary;
  if (!selection.machine.empty()) start.vm.machine = vm::ParseMachine(selection.machine);
  start.vm.boot_timeout =
      std::chrono::milliseconds(static_cast<long>(selection.boot_timeout_s * 1000));
  start.vm.log = [](const std::string& line) { std::fprintf(stderr, "vm: %s\n", line.c_str()); };

  const auto began = std::chrono::steady_clock::now();
  vm::GuestInfo guest;
  std::string tail;
  try {
    guest = vm::StartGuest(start, &tail);
  } catch (const vm::VmError& e) {
    if (!tail.empty()) std::fprintf(stderr, "--- console tail ---\n%s", tail.c_str());
    throw InfrastructureError(e.what());
  }
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  std::printf(
      "guest %s ready: kernel %s (%s), %s/%s, booted in %.2fs, ready in %.2fs, vm start took "
      "%.2fs; supervisor pid %d, qemu pid %d\n",
      guest.name.c_str(), guest.kernel_label.c_str(), guest.kernel_release.c_str(),
      guest.machine.c_str(), guest.accelerator.c_str(), guest.boot_s, guest.ready_s, took,
      static_cast<int>(guest.supervisor_pid), static_cast<int>(guest.qemu_pid));
  return 0;
}

int VmListCommand(bool json) {
  const auto guests = vm::ListGuests();
  if (json) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& guest : guests) list.push_back(vm::GuestInfoToJson(guest));
    std::printf("%s\n", list.dump(2).c_str());
    return 0;
  }
  if (guests.empty()) {
    std::printf("no guest is running (start one with `netns-conform vm start NAME --vm KERNEL`)\n");
    return 0;
  }
  std::printf("%-16s %-9s %-20s %-28s %8s %8s %9s %5s %7s\n", "NAME", "STATE", "KERNEL", "RELEASE",
              "PID", "QEMU", "UPTIME", "RUNS", "BOOT");
  for (const auto& g : guests) {
    std::string kernel = g.kernel_label;
    if (kernel.size() > 20) kernel = "..." + kernel.substr(kernel.size() - 17);
    std::printf("%-16s %-9s %-20s %-28s %8d %8d %8.0fs %5d %6.2fs\n", g.name.c_str(),
                g.state.c_str(), kernel.c_str(), g.kernel_release.c_str(),
                static_cast<int>(g.supervisor_pid), static_cast<int>(g.qemu_pid), g.uptime_s(),
                g.runs, g.boot_s);
  }
  return 0;
}

int VmStopCommand(const std::string& name, double timeout_s) {
  if (geteuid() != 0)
    throw UsageError("must run as root: the guests are root's (euid " + std::to_string(geteuid()) +
                     ")");
  vm::GuestInfo guest;
  try {
    guest = vm::StopGuest(name, std::chrono::milliseconds(static_cast<long>(timeout_s * 1000)));
  } catch (const vm::VmError& e) {
    throw UsageError(e.what());
  }
  std::printf("guest %s stopped after %.0fs up and %d run%s\n", name.c_str(), guest.uptime_s(),
              guest.runs, guest.runs == 1 ? "" : "s");
  return 0;
}

int KernelListCommand(bool query_apt) {
  vm::KernelCache cache;
  std::printf("%-18s %-8s %-10s %s\n", "NAME", "CACHED", "FETCHABLE", "PACKAGE / NOTE");
  for (const auto& entry : cache.List(query_apt)) {
    std::string package = entry.cached ? entry.cached_package + " " + entry.cached_version
                                       : entry.candidate_package + " " + entry.candidate_version;
    if (!entry.note.empty()) package += " (" + entry.note + ")";
    std::printf("%-18s %-8s %-10s %s\n", entry.name.c_str(), entry.cached ? "yes" : "no",
                entry.fetchable ? "yes" : (query_apt ? "no" : "?"), package.c_str());
  }
  if (!vm::CachedNoNetnsKernel(vm::KernelCache::DefaultCacheRoot()))
    std::printf("%-18s %-8s %-10s %s\n", "no-netns", "no", "build",
                "CONFIG_NET_NS=n, built from linux-source: `netns-conform kernel build no-netns`");
  return 0;
}

int KernelBuildCommand(const std::string& name, bool force) {
  if (name != "no-netns")
    throw UsageError("only `kernel build no-netns` is known, not '" + name + "'");
  if (geteuid() != 0)
    throw UsageError("must run as root (it installs build packages and writes the cache)");
  try {
    vm::Kernel kernel = vm::BuildNoNetnsKernel(
        vm::KernelCache::DefaultCacheRoot(),
        [](const std::string& line) { std::fprintf(stderr, "build: %s\n", line.c_str()); }, force);
    std::printf("no-netns: %s (%s)\n", kernel.release.c_str(), kernel.image.c_str());
  } catch (const vm::VmError& e) {
    throw InfrastructureError(e.what());
  }
  return 0;
}

}  // namespace conform
