#include "vm/vm_run.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <deque>
#include <fstream>
#include <set>
#include <sstream>

#include "vm/channel.h"
#include "vm/error.h"
#include "vm/tools.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace conform::vm {
namespace {

std::string Tail(const std::string& text, size_t max_lines) {
  std::deque<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
    if (lines.size() > max_lines) lines.pop_front();
  }
  std::string tail;
  for (const auto& line : lines) tail += line + "\n";
  return tail;
}

std::string ReadIfThere(const fs::path& path) {
  std::error_code ec;
  return fs::exists(path, ec) ? ReadFile(path) : std::string();
}

std::string SecondsText(std::chrono::milliseconds ms) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g s", static_cast<double>(ms.count()) / 1000);
  return buf;
}

std::string SecondsText(double s) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f s", s);
  return buf;
}

bool IsOn(const Kconfig& config, const std::string& symbol) {
  const std::string v = KconfigValue(config, symbol);
  return v == "y" || v == "m";
}

bool StartsWithElf(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  in.read(magic, 4);
  return in && std::string_view(magic, 4) == std::string_view(
                                                 "\x7f"
                                                 "ELF",
                                                 4);
}

// A module the guest needs at boot: built in, or in the initramfs.
void RequireDriver(const Kconfig& config, const Initramfs& initramfs, const std::string& symbol,
                   const std::string& module, const std::string& kernel, const std::string& why) {
  const std::string value = KconfigValue(config, symbol);
  if (value == "y") return;
  if (value == "m") {
    for (const auto& path : initramfs.modules)
      if (fs::path(path).stem() == module) return;
    throw VmError("kernel " + kernel + " cannot run the suite: " + symbol + "=m but " + module +
                  ".ko is not among its modules (" + why + ")");
  }
  throw VmError("kernel " + kernel + " cannot run the suite: " + symbol + " is not set (" + why +
                ")");
}

bool ProcessAlive(const std::string& pid_text) {
  if (pid_text.empty() || pid_text.find_first_not_of("0123456789") != std::string::npos)
    return false;
  return kill(static_cast<pid_t>(std::stol(pid_text)), 0) == 0 || errno == EPERM;
}

// Work folders of earlier runs that were SIGKILLed (nothing else skips the cleanup).
void RemoveStaleWorkDirs(const fs::path& vm_dir) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(vm_dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(".work-", 0) == 0 && !ProcessAlive(name.substr(6)))
      fs::remove_all(entry.path(), ec);
  }
}

class WorkDir {
 public:
  explicit WorkDir(fs::path dir) : dir_(std::move(dir)) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
    fs::create_directories(dir_);
  }
  ~WorkDir() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  const fs::path& path() const { return dir_; }

 private:
  fs::path dir_;
};

}  // namespace

std::string TailLines(const std::string& text, size_t max_lines) { return Tail(text, max_lines); }

void NoteRunnerFailed(const ChannelContents& ch, VmRunResult& r) {
  std::string said = Tail(ch.runner_log.value_or(""), 1);
  while (!said.empty() && said.back() == '\n') said.pop_back();
  r.results_dir.clear();
  r.failure = "the runner in the guest exited with status " + std::to_string(r.runner_status) +
              " without writing results.json" + (said.empty() ? "" : ": " + said);
}

void NoteIncompleteRun(const ChannelContents& ch, const std::string& console,
                       const fs::path& vm_dir, VmRunResult& r) {
  if (!r.kernel_problems.empty()) r.failure += "; the kernel said: " + r.kernel_problems.front();
  r.console_tail = Tail(console, 40);
  if (!ch.journal.empty()) {
    std::string lines;
    for (const auto& line : ch.journal) lines += line + "\n";
    WriteFileReplacing(vm_dir / "journal.partial.jsonl", lines);
  }
}

std::string CollectChannel(const ChannelContents& ch, const std::string& console,
                           const fs::path& out_dir, VmRunResult& r) {
  const fs::path vm_dir = out_dir / "vm";
  fs::create_directories(vm_dir);
  if (auto it = ch.running_fields.find("nic"); it != ch.running_fields.end() && it->second != "-")
    r.guest_nic = it->second;
  r.streamed_journal = ch.journal;
  if (ch.dmesg) {
    r.dmesg_log = vm_dir / "dmesg.txt";
    WriteFileReplacing(r.dmesg_log, *ch.dmesg);
  }
  if (ch.runner_log) {
    r.runner_log = vm_dir / "runner.log";
    WriteFileReplacing(r.runner_log, *ch.runner_log);
  }

  std::set<std::string> seen;
  for (const std::string* log : {&console, ch.dmesg ? &*ch.dmesg : nullptr}) {
    if (!log) continue;
    for (auto& line : KernelProblems(*log)) {
      // The same message in the console and in dmesg: keep one (timestamps agree).
      if (seen.insert(line.substr(line.find(']') == std::string::npos ? 0 : line.find(']'))).second)
        r.kernel_problems.push_back(line);
    }
  }

  if (ch.results_tar) {
    try {
      ExtractTar(*ch.results_tar, out_dir);
      r.results_dir = out_dir;
      r.runner_status = ch.runner_status.value_or(-1);
    } catch (const VmError& e) {
      return e.what();
    }
  }
  return "";
}

const char* VmOutcomeName(VmOutcome outcome) {
  switch (outcome) {
    case VmOutcome::kCompleted:
      return "completed";
    case VmOutcome::kRunnerFailed:
      return "runner-failed";
    case VmOutcome::kBootFailed:
      return "boot-failed";
    case VmOutcome::kGuestDied:
      return "guest-died";
    case VmOutcome::kTimedOut:
      return "timed-out";
    case VmOutcome::kStopped:
      return "stopped";
  }
  return "?";
}

GuestPlan PlanGuest(const VmRunOptions& o, VmRunResult& r) {
  auto say = [&](const std::string& line) {
    if (o.log) o.log(line);
  };
  const Kernel& k = o.kernel;
  r.kernel_name = k.name;
  r.kernel_release = k.release;
  r.kernel_package = k.package.empty() ? "" : k.package + " " + k.package_version;
  r.kernel_version = k.version;
  r.kernel_config = k.config;
  r.kernel_config_source = k.config_source;

  const auto qemu = FindTool("qemu-system-x86_64");
  if (!qemu)
    throw VmError("qemu-system-x86_64 not found (install the Debian package qemu-system-x86)");
  std::error_code ec;
  if (k.boot_image.empty() || !fs::is_regular_file(k.boot_image, ec))
    throw VmError("kernel image not found: " + k.boot_image.string());

  // What the kernel can do decides the machine and whether it can run the guest at all.
  const Kconfig config = ReadKconfig(k.config);
  const bool pvh = k.boot_image != k.image || StartsWithElf(k.boot_image);
  std::string why_not_microvm;
  const Machine machine = o.machine ? *o.machine : ChooseMachine(config, pvh, &why_not_microvm);
  r.machine = MachineName(machine);
  r.machine_note = o.machine ? "chosen by the caller" : why_not_microvm;
  // KVM is probed only where it could be used: a caller that asks for TCG gets it.
  Accelerator accel = o.accelerator.value_or(Accelerator::kKvm);
  std::string why_not_kvm;
  if (accel == Accelerator::kKvm && !KvmUsable(&why_not_kvm)) {
    if (o.accelerator)
      throw VmError("KVM was asked for, but it is not usable here: " + why_not_kvm);
    // Said only where /dev/kvm is there: without it TCG is no news.
    if (fs::exists("/dev/kvm", ec))
      say("KVM not used: " + why_not_kvm + "; the guest runs under TCG");
    accel = Accelerator::kTcg;
  }
  r.accelerator = AcceleratorName(accel);
  InitramfsCompression compression = o.compression;
  if (!config.empty()) {
    if (KconfigValue(config, "CONFIG_BLK_DEV_INITRD") != "y")
      throw VmError("kernel " + k.name +
                    " cannot run the initramfs: CONFIG_BLK_DEV_INITRD is not set");
    if (compression == InitramfsCompression::kGzip && KconfigValue(config, "CONFIG_RD_GZIP") != "y")
      compression = InitramfsCompression::kNone;
    if (!IsOn(config, "CONFIG_SERIAL_8250_CONSOLE"))
      say("warning: CONFIG_SERIAL_8250_CONSOLE is not set: the console log will stay empty");
  }

  InitramfsSpec spec{.runner_binary = o.runner_binary,
                     .suite_binary = o.suite_binary,
                     .kernel_release = k.release,
                     .modules_dir = k.modules_dir,
                     .kernel_config = k.config,
                     .compression = compression};
  const Initramfs initramfs = BuildInitramfs(spec, o.cache_root);
  r.initramfs_s = initramfs.build_s;
  r.initramfs_cached = initramfs.from_cache;
  r.initramfs_bytes = initramfs.bytes;
  r.modules = initramfs.modules;
  r.missing_modules = initramfs.missing_modules;
  if (!config.empty()) {
    RequireDriver(config, initramfs, "CONFIG_VIRTIO_CONSOLE", "virtio_console", k.name,
                  "the result channel is a virtio-serial port");
    if (machine == Machine::kMicrovm) {
      RequireDriver(config, initramfs, "CONFIG_VIRTIO_MMIO", "virtio_mmio", k.name,
                    "microvm's devices are virtio-mmio");
    } else {
      RequireDriver(config, initramfs, "CONFIG_VIRTIO_PCI", "virtio_pci", k.name,
                    "q35's devices are virtio-pci");
    }
  }
  say("kernel " + k.name + ": " + k.release +
      (r.kernel_package.empty() ? "" : " (" + r.kernel_package + ")"));
  say("initramfs " + initramfs.file.filename().string() + ": " +
      std::to_string(initramfs.bytes / 1024) + " KiB, " +
      (initramfs.from_cache ? "cached" : "built") + " in " + SecondsText(initramfs.build_s));

  GuestPlan plan{.initramfs = initramfs};
  QemuConfig& qc = plan.qemu;
  qc.qemu_binary = *qemu;
  qc.machine = machine;
  qc.accelerator = accel;
  qc.memory_mib = o.memory_mib;
  qc.cpus =
      o.cpus > 0 ? o.cpus : static_cast<int>(std::clamp(sysconf(_SC_NPROCESSORS_ONLN), 1L, 2L));
  qc.kernel = k.boot_image;
  std::optional<long> tsc;
  if (machine == Machine::kMicrovm) tsc = HostTscKhz();
  qc.cmdline = KernelCmdline(machine, tsc, o.extra_cmdline);
  qc.guest_nic = o.guest_nic;
  qc.hub_sink = true;  // else the NIC's first frame stalls its TX queue: see QemuConfig::hub_sink
  return plan;
}

VmRunResult RunSuiteInVm(const VmRunOptions& o) {
  const auto start = Clock::now();
  auto say = [&](const std::string& line) {
    if (o.log) o.log(line);
  };
  VmRunResult r;
  if (o.out_dir.empty()) throw VmError("no output folder");
  GuestPlan plan = PlanGuest(o, r);
  const Initramfs& initramfs = plan.initramfs;
  std::error_code ec;

  const fs::path vm_dir = o.out_dir / "vm";
  fs::create_directories(vm_dir);
  for (const char* stale : {"results.json", "junit.xml", "journal.jsonl"})
    fs::remove(o.out_dir / stale, ec);
  fs::remove_all(o.out_dir / "logs", ec);
  for (const char* stale : {"console.log", "console.attempt1.log", "dmesg.txt", "runner.log",
                            "qemu.log", "journal.partial.jsonl"})
    fs::remove(vm_dir / stale, ec);
  RemoveStaleWorkDirs(vm_dir);
  WorkDir work(vm_dir / (".work-" + std::to_string(getpid())));

  // The cached archive, then the run's arguments as a second archive (4-byte aligned).
  std::string initrd = ReadFile(initramfs.file);
  initrd.resize((initrd.size() + 3) & ~size_t{3}, '\0');
  initrd += RunArgsArchive(o.runner_args);
  WriteFileReplacing(work.path() / "initrd", initrd);
  initrd.clear();

  QemuConfig& qc = plan.qemu;
  qc.initrd = work.path() / "initrd";
  qc.console_log = vm_dir / "console.log";
  qc.channel_file = work.path() / "channel";
  r.console_log = qc.console_log;
  r.qemu_log = vm_dir / "qemu.log";

  WatchOptions watch{
      .boot_timeout = o.boot_timeout, .run_timeout = o.run_timeout, .should_stop = o.should_stop};
  QemuOutcome q;
  for (int attempt = 0;; ++attempt) {
    say(std::string("booting ") + (attempt ? "again " : "") + "(" + r.machine + ", " +
        r.accelerator + ", " + std::to_string(o.memory_mib) + " MiB, " + std::to_string(qc.cpus) +
        " vCPU)");
    q = RunQemu(qc, watch, r.qemu_log);
    if (!q.boot_timed_out || attempt >= o.boot_retries) break;
    ++r.retries;
    say("no boot marker within " + SecondsText(o.boot_timeout) + ": killed, retrying");
    fs::rename(qc.console_log, vm_dir / ("console.attempt" + std::to_string(attempt + 1) + ".log"),
               ec);
  }
  r.qemu_s = q.total_s;
  r.boot_s = q.boot_s;
  r.runner_start_s = q.running_s;
  if (q.booted) say("booted in " + SecondsText(q.boot_s));

  const ChannelContents ch = ParseChannel(ReadIfThere(qc.channel_file));
  if (auto it = ch.booted_fields.find("uptime"); it != ch.booted_fields.end())
    r.guest_uptime_at_init_s = std::atof(it->second.c_str());
  const std::string console = ReadIfThere(qc.console_log);
  const std::string extract_error = CollectChannel(ch, console, o.out_dir, r);

  const std::string boot_limit = SecondsText(o.boot_timeout);
  if (q.stopped) {
    r.outcome = VmOutcome::kStopped;
    r.failure = "stopped on request";
  } else if (!q.booted) {
    r.outcome = VmOutcome::kBootFailed;
    r.failure = q.boot_timed_out
                    ? "the guest did not boot: no boot marker within " + boot_limit + ", " +
                          std::to_string(r.retries + 1) + " times"
                    : "the guest stopped before its init said BOOTED (qemu exit status " +
                          std::to_string(q.exit_code) + ")";
  } else if (!r.results_dir.empty() && ch.ended) {
    if (fs::exists(o.out_dir / "results.json", ec)) {
      r.outcome = VmOutcome::kCompleted;
    } else {
      r.outcome = VmOutcome::kRunnerFailed;
      NoteRunnerFailed(ch, r);
    }
  } else if (q.run_timed_out) {
    r.outcome = VmOutcome::kTimedOut;
    r.failure = "the whole-run watchdog fired after " + SecondsText(o.run_timeout) +
                "; the guest was killed";
  } else {
    r.outcome = VmOutcome::kGuestDied;
    r.failure = !extract_error.empty() ? "the results could not be read: " + extract_error
                                       : "the guest stopped after " + SecondsText(q.total_s) +
                                             " without sending its results" +
                                             (ch.error.empty() ? "" : " (" + ch.error + ")");
  }
  if (r.outcome != VmOutcome::kCompleted) NoteIncompleteRun(ch, console, vm_dir, r);
  r.total_s = std::chrono::duration<double>(Clock::now() - start).count();
  return r;
}

}  // namespace conform::vm
