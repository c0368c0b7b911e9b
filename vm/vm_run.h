// One suite run in a disposable qemu guest, end to end: the kernel (vm/kernel_cache.h), its
// initramfs (vm/initramfs.h), the boot with watchdogs and one retry of a hung boot (vm/qemu.h),
// and the results brought back on their own channel (vm/channel.h).
//
// What lands in out_dir:
//   results.json, junit.xml, journal.jsonl, logs/   as the in-guest `netns-conform run` wrote
//                                                   them (environment.sandbox says "inplace":
//                                                   the caller rewrites the environment)
//   vm/console.log        the guest's ttyS0 (vm/console.attempt1.log: a boot that was retried)
//   vm/dmesg.txt          the guest kernel's log at the end of the run
//   vm/runner.log         the in-guest runner's own output
//   vm/qemu.log           qemu's stdout/stderr
//   vm/journal.partial.jsonl  journal lines streamed while the guest ran (only when the
//                         results never came back)
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "vm/channel.h"
#include "vm/initramfs.h"
#include "vm/kernel_cache.h"
#include "vm/qemu.h"

namespace conform::vm {

struct VmRunOptions {
  Kernel kernel;                        // KernelCache::Get(name) or UserKernel(paths)
  std::filesystem::path runner_binary;  // netns-conform, copied into the guest
  std::filesystem::path suite_binary;   // netns-conform-suite
  // Appended to `netns-conform run --out /results [--spare-nic <guest NIC>]` in the guest:
  // --filter, -j, --timeout. No --out, no --spare-nic.
  std::vector<std::string> runner_args;
  std::filesystem::path out_dir;
  std::filesystem::path cache_root = KernelCache::DefaultCacheRoot();

  std::optional<Machine> machine;          // nullopt: ChooseMachine
  std::optional<Accelerator> accelerator;  // nullopt: kvm when usable, else tcg
  int memory_mib = 512;
  int cpus = 0;  // 0: min(2, host CPUs); 2 vCPUs halve the suite's time under TCG (MTTCG)
  bool guest_nic = true;
  std::string extra_cmdline;
  InitramfsCompression compression = InitramfsCompression::kNone;  // see vm/initramfs.h
  std::chrono::milliseconds boot_timeout{30000};
  std::chrono::milliseconds run_timeout{1800000};
  int boot_retries = 1;  // a boot that hangs (no BOOTED marker in time) is retried this often
  std::function<bool()> should_stop;            // polled while the guest runs
  std::function<void(const std::string&)> log;  // one progress line at a time
};

enum class VmOutcome {
  kCompleted,     // results.json came back (the cases themselves may have failed)
  kRunnerFailed,  // the guest ran, but its runner wrote no results.json (exit status 2: bad
                  // arguments, an infrastructure error in the guest); see runner_log
  kBootFailed,    // no boot marker (hung twice, or the guest stopped before its init ran)
  kGuestDied,     // booted, but stopped without sending the results (panic, crash, power-off)
  kTimedOut,      // the whole-run watchdog fired
  kStopped,       // should_stop said so
};
const char* VmOutcomeName(VmOutcome outcome);

struct VmRunResult {
  VmOutcome outcome = VmOutcome::kBootFailed;
  std::string failure;       // one line; empty when completed
  std::string console_tail;  // the console's last lines, when not completed
  int runner_status = -1;    // the in-guest runner's exit status (0, 1; 2 infrastructure)

  std::filesystem::path results_dir;  // out_dir when results came back, else empty
  std::filesystem::path console_log, dmesg_log, runner_log, qemu_log;
  std::vector<std::string> streamed_journal;  // journal lines the guest sent while running

  std::string kernel_name, kernel_release, kernel_package, kernel_version;
  std::filesystem::path kernel_config;             // empty when unknown
  std::string kernel_config_source;                // "package", "--vm-config", "ikconfig", ""
  std::string machine, accelerator, machine_note;  // machine_note: why not microvm
  std::string guest_nic;                           // the NIC lent to the refund cases, or ""
  std::vector<std::string> kernel_problems;  // console + dmesg lines: panic, BUG, WARNING, Oops
  int retries = 0;                           // boots retried after a hang

  double boot_s = 0;  // qemu start -> the guest's init says BOOTED (modules for the channel in)
  double runner_start_s = 0;          // qemu start -> the runner is started
  double guest_uptime_at_init_s = 0;  // the guest kernel's own clock when init said BOOTED
  double qemu_s = 0;                  // qemu start -> qemu gone (last attempt)
  double total_s = 0;                 // the whole call: initramfs, every boot, extraction
  double initramfs_s = 0;             // building (or finding) the initramfs
  bool initramfs_cached = false;
  std::uintmax_t initramfs_bytes = 0;
  std::vector<std::string> modules, missing_modules;
};

// The part of a run before qemu starts, shared with the reuse sandbox (vm/reuse.h): checks the
// kernel can run the initramfs, chooses machine and accelerator, builds (or finds) the
// initramfs. Fills r's kernel, machine, accelerator and initramfs fields. `qemu` is complete but
// for initrd, console_log and the channel, which the caller owns. Throws VmError as
// RunSuiteInVm does.
struct GuestPlan {
  QemuConfig qemu;
  Initramfs initramfs;
};
GuestPlan PlanGuest(const VmRunOptions& options, VmRunResult& r);

// What a guest sent on the channel for one run, into out_dir: vm/dmesg.txt, vm/runner.log, the
// results tar extracted (r.results_dir and r.runner_status set then), r.guest_nic,
// r.streamed_journal and r.kernel_problems (from `console` and dmesg, each message once).
// Returns why the results tar could not be extracted, "" when it was fine or absent.
std::string CollectChannel(const ChannelContents& ch, const std::string& console,
                           const std::filesystem::path& out_dir, VmRunResult& r);

// The last `max_lines` lines of `text`.
std::string TailLines(const std::string& text, size_t max_lines);

// The runner in the guest ended without writing results.json: r.failure says so, with the last
// line of its log; r.results_dir is cleared.
void NoteRunnerFailed(const ChannelContents& ch, VmRunResult& r);

// A run that did not complete: the kernel's first problem appended to r.failure, the console's
// last 40 lines in r.console_tail, the journal streamed so far in vm_dir/journal.partial.jsonl.
void NoteIncompleteRun(const ChannelContents& ch, const std::string& console,
                       const std::filesystem::path& vm_dir, VmRunResult& r);

// Runs the suite in a guest. Throws VmError (one line: bad input or infrastructure, the caller
// exits 2) before qemu starts: no qemu, a kernel that cannot run the initramfs (no virtio
// transport or console, no initrd support), missing binaries. From the first boot on, every
// ending is a VmRunResult. No qemu process, socket or temporary file is left behind.
VmRunResult RunSuiteInVm(const VmRunOptions& options);

}  // namespace conform::vm
