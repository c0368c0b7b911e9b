// The qemu side of the VM sandbox: which machine and accelerator, the command line (an argv
// array), and one watched boot: its own process group, death with the starting thread, a boot
// watchdog and a whole-run watchdog, boot time measured to the guest's first marker.
//
// Host safety: the guest's only NIC sits on an isolated qemu hub (`-netdev hubport`, nothing
// else on the hub but a port without backend that drops frames): no user-mode networking, no
// tap, no bridge. -nodefaults keeps qemu from adding a default (user-mode) NIC.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "vm/kernel_cache.h"

namespace conform::vm {

enum class Machine { kMicrovm, kQ35 };
enum class Accelerator { kKvm, kTcg };
const char* MachineName(Machine machine);        // "microvm", "q35"
const char* AcceleratorName(Accelerator accel);  // "kvm", "tcg"
std::optional<Machine> ParseMachine(const std::string& name);

// /dev/kvm opens read-write, answers KVM_GET_API_VERSION with 12, and qemu runs a guest on it
// as the suite's guests are started (-accel kvm -cpu host): a host that exposes /dev/kvm without
// working nested virtualisation fails there (seen: "failed to set MSR 0x10a", an abort). Probed
// once per process (about 40 ms); `why` says why not.
bool KvmUsable(std::string* why = nullptr);
// qemu runs a 5-byte firmware under `accel` (q35, with -cpu host under KVM) that ends it through
// isa-debug-exit: "" when the vCPU ran it, else why not (qemu's status and first line).
std::string ProbeQemuGuest(Accelerator accel);

// The host's TSC frequency in kHz, which is also the guest's under TCG (qemu's rdtsc reads the
// host TSC). Sources, first that answers: CPUID leaf 0x15 (TSC/crystal ratio, Intel), the
// hypervisor timing leaf 0x40000010 (VMware/KVM convention), else rdtsc measured against
// CLOCK_MONOTONIC_RAW over 3 x 20 ms (median). `source` says which. nullopt off x86.
std::optional<long> HostTscKhz(std::string* source = nullptr);

// microvm when the kernel can use it (virtio-mmio built in or a module, found by ACPI or on the
// command line, and a PVH-bootable image), else q35 (virtio-pci). An unknown config gets q35.
// `why` says why microvm was not taken.
Machine ChooseMachine(const Kconfig& config, bool pvh_image, std::string* why = nullptr);

struct QemuConfig {
  std::filesystem::path qemu_binary;  // resolved qemu-system-x86_64
  Machine machine = Machine::kQ35;
  Accelerator accelerator = Accelerator::kTcg;
  int memory_mib = 512;
  int cpus = 1;
  std::filesystem::path kernel;  // PVH vmlinux or bzImage
  std::filesystem::path initrd;
  std::string cmdline;                 // the whole kernel command line (see KernelCmdline)
  std::filesystem::path console_log;   // ttyS0, written by qemu
  std::filesystem::path channel_file;  // the virtio-serial port netns-conform.results
  // When set, that port is a unix socket qemu listens on (server=on,wait=off) instead of
  // channel_file: both directions, for a guest that serves runs (vm/reuse.h).
  std::filesystem::path channel_socket;
  bool guest_nic = true;
  int hub_id = 7;
  // A second port on the hub with no device and no backend: it takes every frame and drops it.
  // Without it the NIC cannot transmit: qemu's hub accepts a frame only when another port can
  // take it, so the first frame stalls the guest's TX queue, and the frames queued there pin the
  // sockets that sent them and so their netns: a NIC a case bridged and sent on is then never
  // refunded. The hub stays isolated (nothing on it reaches the host).
  bool hub_sink = true;
  std::string name = "netns-conform-vm";  // qemu's -name
};

inline constexpr const char* kResultPortName = "netns-conform.results";

// "console=ttyS0 panic=-1 quiet ..." plus, for microvm, tsc_early_khz (its boot otherwise hangs
// now and then calibrating the TSC against a PIT it lacks: DESIGN.md §6) and tsc=reliable (under
// TCG the jiffies-based clocksource watchdog sees skew that is only emulation slowness, and
// would switch the guest to the jiffies clocksource).
std::string KernelCmdline(Machine machine, std::optional<long> tsc_khz, const std::string& extra);

// The full argv, argv[0] being the qemu binary.
std::vector<std::string> QemuArgv(const QemuConfig& config);

struct WatchOptions {
  std::chrono::milliseconds boot_timeout{30000};   // qemu start -> BOOTED on the result channel
  std::chrono::milliseconds run_timeout{1800000};  // qemu start -> END on the result channel
  std::chrono::milliseconds end_grace{5000};       // END -> qemu gone (power-off), else killed
  std::function<bool()> should_stop;               // polled; true kills the guest
};

struct QemuOutcome {
  bool booted = false;    // BOOTED seen
  bool running = false;   // RUNNING seen: the runner was started
  bool finished = false;  // END seen
  bool boot_timed_out = false, run_timed_out = false, stopped = false;
  double boot_s = 0;     // qemu start -> BOOTED
  double running_s = 0;  // qemu start -> RUNNING
  double total_s = 0;    // qemu start -> qemu gone
  int exit_code = -1;    // qemu's, -1 when it was killed
};

// Starts qemu and watches the result channel file until END, a timeout, a stop request or qemu's
// end. qemu's own stdout/stderr go to `qemu_log`. No qemu process is left when this returns
// (or throws). Call it from a thread that outlives the guest (PR_SET_PDEATHSIG is per thread).
QemuOutcome RunQemu(const QemuConfig& config, const WatchOptions& watch,
                    const std::filesystem::path& qemu_log);

// Kernel lines (with printk's "[ seconds]" stamp) of a console log or dmesg that report trouble:
// "Kernel panic", "BUG:", "WARNING:", "Oops", "general protection fault", "Call Trace:" headers.
std::vector<std::string> KernelProblems(const std::string& log);

}  // namespace conform::vm
