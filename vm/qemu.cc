#include "vm/qemu.h"

#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <boost/process.hpp>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <x86intrin.h>
#endif

#include "vm/child_setup.h"
#include "vm/error.h"
#include "vm/tools.h"

namespace bp = boost::process;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace conform::vm {
namespace {

bool On(const Kconfig& config, const std::string& symbol) {
  const std::string v = KconfigValue(config, symbol);
  return v == "y" || v == "m";
}

#if defined(__x86_64__) || defined(__i386__)
std::optional<long> MeasureTscKhz() {
  std::vector<double> samples;
  for (int i = 0; i < 3; ++i) {
    timespec t0{}, t1{};
    clock_gettime(CLOCK_MONOTONIC_RAW, &t0);
    const unsigned long long r0 = __rdtsc();
    double ns = 0;
    do {
      clock_gettime(CLOCK_MONOTONIC_RAW, &t1);
      ns = static_cast<double>(t1.tv_sec - t0.tv_sec) * 1e9 +
           static_cast<double>(t1.tv_nsec - t0.tv_nsec);
    } while (ns < 20e6);
    const unsigned long long r1 = __rdtsc();
    samples.push_back(static_cast<double>(r1 - r0) / ns * 1e6);
  }
  std::sort(samples.begin(), samples.end());
  if (samples[1] <= 0) return std::nullopt;
  return std::lround(samples[1]);
}
#endif

std::optional<long> ReadHostTscKhz(std::string* source) {
#if defined(__x86_64__) || defined(__i386__)
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid_max(0, nullptr) >= 0x15) {
    __cpuid_count(0x15, 0, a, b, c, d);
    if (a && b && c) {
      if (source) *source = "cpuid 0x15";
      return static_cast<long>(static_cast<unsigned long long>(c) * b / a / 1000);
    }
  }
  __cpuid(1, a, b, c, d);
  if (c & (1u << 31)) {  // running under a hypervisor
    __cpuid(0x40000000, a, b, c, d);
    if (a >= 0x40000010) {
      unsigned khz = 0;
      __cpuid(0x40000010, khz, b, c, d);
      if (khz) {
        if (source) *source = "cpuid 0x40000010";
        return static_cast<long>(khz);
      }
    }
  }
  if (source) *source = "rdtsc vs CLOCK_MONOTONIC_RAW";
  return MeasureTscKhz();
#else
  (void)source;
  return std::nullopt;
#endif
}

// What the result channel file says so far: the marker lines are short and come first; END is
// the last thing the guest writes.
struct ChannelProgress {
  bool booted = false, running = false, ended = false;
};

ChannelProgress ScanChannel(const fs::path& file, off_t size) {
  ChannelProgress p;
  std::ifstream in(file, std::ios::binary);
  std::string head(static_cast<size_t>(std::min<off_t>(size, 4096)), '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  p.booted = head.find("NCVM 1 BOOTED ") != std::string::npos;
  p.running = head.find("NCVM 1 RUNNING ") != std::string::npos;
  static constexpr std::string_view kEnd = "NCVM 1 END\n";
  if (size >= static_cast<off_t>(kEnd.size())) {
    std::string tail(kEnd.size(), '\0');
    in.clear();
    in.seekg(size - static_cast<off_t>(kEnd.size()));
    in.read(tail.data(), static_cast<std::streamsize>(tail.size()));
    p.ended = tail == kEnd;
  }
  return p;
}

off_t FileSize(const fs::path& file) {
  struct stat st {};
  return stat(file.c_str(), &st) == 0 ? st.st_size : 0;
}

}  // namespace

const char* MachineName(Machine machine) {
  return machine == Machine::kMicrovm ? "microvm" : "q35";
}

const char* AcceleratorName(Accelerator accel) {
  return accel == Accelerator::kKvm ? "kvm" : "tcg";
}

std::optional<Machine> ParseMachine(const std::string& name) {
  if (name == "microvm") return Machine::kMicrovm;
  if (name == "q35") return Machine::kQ35;
  return std::nullopt;
}

namespace {

// A firmware image of 64 KiB (the size qemu's pc machines load) whose reset vector, the last 16
// bytes, is `mov al, 0x2a; out 0xf4, al; hlt`: the write to isa-debug-exit at port 0xf4 ends qemu
// with status (0x2a << 1) | 1 = 85, which only a vCPU that ran can cause.
constexpr int kProbeExitStatus = (0x2a << 1) | 1;
std::string ProbeFirmware() {
  std::string image(size_t{64} * 1024, '\xf4');  // hlt everywhere else
  const char reset[] = {'\xb0', '\x2a', '\xe6', '\xf4', '\xf4'};
  std::memcpy(image.data() + image.size() - 16, reset, sizeof(reset));
  return image;
}

std::string FirstLine(const std::string& text) { return text.substr(0, text.find('\n')); }

}  // namespace

std::string ProbeQemuGuest(Accelerator accel) {
  const auto qemu = FindTool("qemu-system-x86_64");
  if (!qemu) return "qemu-system-x86_64 is not installed";
  // The firmware and qemu's output are memory files of this process, named to qemu by
  // /proc/PID/fd/N: a probe killed midway leaves no file behind.
  struct MemFile {
    int fd;
    ~MemFile() {
      if (fd >= 0) close(fd);
    }
    std::string Path() const {
      return "/proc/" + std::to_string(getpid()) + "/fd/" + std::to_string(fd);
    }
  };
  const MemFile firmware{memfd_create("netns-conform-probe-firmware", MFD_CLOEXEC)};
  const MemFile output{memfd_create("netns-conform-probe-output", MFD_CLOEXEC)};
  if (firmware.fd < 0 || output.fd < 0) return std::string("memfd_create: ") + std::strerror(errno);
  const std::string image = ProbeFirmware();
  if (pwrite(firmware.fd, image.data(), image.size(), 0) != static_cast<ssize_t>(image.size()))
    return std::string("writing the probe firmware: ") + std::strerror(errno);
  std::vector<std::string> args = {"-machine", "q35", "-accel", AcceleratorName(accel)};
  if (accel == Accelerator::kKvm) args.insert(args.end(), {"-cpu", "host"});  // as QemuArgv
  args.insert(args.end(),
              {"-m", "16", "-nodefaults", "-no-user-config", "-nographic", "-monitor", "none",
               "-bios", firmware.Path(), "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"});
  std::unique_ptr<bp::child> probe;
  try {
    probe = std::make_unique<bp::child>(
        qemu->string(), bp::args(args),
        bp::std_in<bp::null, (bp::std_out & bp::std_err)> output.Path(), ChildSetup(getpid()));
  } catch (const std::exception& e) {
    return std::string("cannot start qemu: ") + e.what();
  }
  // A guest that never reaches the port (a vCPU that does not run) is killed at the deadline.
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  std::error_code ec;
  while (probe->running(ec) && Clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  if (probe->running(ec)) {
    kill(-probe->id(), SIGKILL);
    probe->wait(ec);
    return std::string("qemu ran no guest code under ") + AcceleratorName(accel) + " within 5 s";
  }
  probe->wait(ec);
  const int native = probe->native_exit_code();
  if (WIFEXITED(native) && WEXITSTATUS(native) == kProbeExitStatus) return "";
  char said_buf[512] = {};
  const ssize_t got = pread(output.fd, said_buf, sizeof(said_buf) - 1, 0);
  const std::string said = got > 0 ? std::string(said_buf, static_cast<size_t>(got)) : "";
  const std::string status = WIFSIGNALED(native)
                                 ? "killed by signal " + std::to_string(WTERMSIG(native))
                                 : "exit status " + std::to_string(WEXITSTATUS(native));
  return std::string("qemu -accel ") + AcceleratorName(accel) +
         (accel == Accelerator::kKvm ? " -cpu host" : "") + " could not run a guest (" + status +
         (said.empty() ? "" : ": " + FirstLine(said)) + ")";
}

bool KvmUsable(std::string* why) {
  static const std::string cached_why = []() -> std::string {
    const int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0) return std::string("/dev/kvm: ") + std::strerror(errno);
    const int version = ioctl(fd, KVM_GET_API_VERSION, 0);
    close(fd);
    if (version != KVM_API_VERSION)
      return "/dev/kvm answers API version " + std::to_string(version) + ", not " +
             std::to_string(KVM_API_VERSION);
    return ProbeQemuGuest(Accelerator::kKvm);
  }();
  if (why) *why = cached_why;
  return cached_why.empty();
}

std::optional<long> HostTscKhz(std::string* source) {
  // Asked once per process: the measurement costs 60 ms.
  static const auto cached = [] {
    std::string from;
    auto khz = ReadHostTscKhz(&from);
    return std::pair{khz, from};
  }();
  if (source) *source = cached.second;
  return cached.first;
}

Machine ChooseMachine(const Kconfig& config, bool pvh_image, std::string* why) {
  auto no = [&](const std::string& reason) {
    if (why) *why = reason;
    return Machine::kQ35;
  };
  if (config.empty()) return no("the kernel config is unknown");
  if (!pvh_image) return no("the image has no PVH entry (microvm boots an ELF vmlinux)");
  if (!On(config, "CONFIG_VIRTIO_MMIO")) return no("CONFIG_VIRTIO_MMIO is not set");
  if (KconfigValue(config, "CONFIG_ACPI") != "y" &&
      KconfigValue(config, "CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES") != "y")
    return no("virtio-mmio devices are found neither by ACPI nor on the command line");
  if (why) why->clear();
  return Machine::kMicrovm;
}

std::string KernelCmdline(Machine machine, std::optional<long> tsc_khz, const std::string& extra) {
  std::string cmdline = "console=ttyS0 panic=-1 quiet";
  if (machine == Machine::kMicrovm) {
    if (tsc_khz) cmdline += " tsc_early_khz=" + std::to_string(*tsc_khz);
    cmdline += " tsc=reliable";
  }
  if (!extra.empty()) cmdline += " " + extra;
  return cmdline;
}

std::vector<std::string> QemuArgv(const QemuConfig& c) {
  const bool micro = c.machine == Machine::kMicrovm;
  const std::string bus = micro ? "device" : "pci";
  std::vector<std::string> argv = {
      c.qemu_binary.string(),
      "-name",
      c.name,
      "-machine",
      micro ? "microvm" : "q35",
      "-accel",
      AcceleratorName(c.accelerator),
  };
  if (c.accelerator == Accelerator::kKvm) argv.insert(argv.end(), {"-cpu", "host"});
  argv.insert(argv.end(),
              {
                  "-m",
                  std::to_string(c.memory_mib),
                  "-smp",
                  std::to_string(c.cpus),
                  "-nodefaults",
                  "-no-user-config",
                  "-nographic",
                  "-monitor",
                  "none",
                  "-no-reboot",
                  "-kernel",
                  c.kernel.string(),
                  "-initrd",
                  c.initrd.string(),
                  "-append",
                  c.cmdline,
                  "-chardev",
                  "file,id=console,path=" + c.console_log.string(),
                  "-serial",
                  "chardev:console",
                  "-device",
                  "virtio-serial-" + bus + ",id=vser0",
                  "-chardev",
                  c.channel_socket.empty() ? "file,id=results,path=" + c.channel_file.string()
                                           : "socket,id=results,path=" + c.channel_socket.string() +
                                                 ",server=on,wait=off",
                  "-device",
                  std::string("virtserialport,bus=vser0.0,chardev=results,name=") + kResultPortName,
              });
  if (c.guest_nic) {
    const std::string id = "n1";
    argv.insert(argv.end(), {
                                "-netdev",
                                "hubport,id=" + id + ",hubid=" + std::to_string(c.hub_id),
                                "-device",
                                "virtio-net-" + bus + ",netdev=" + id + ",mac=52:54:00:12:34:56",
                            });
    if (c.hub_sink)
      argv.insert(argv.end(), {"-netdev", "hubport,id=sink,hubid=" + std::to_string(c.hub_id)});
  }
  return argv;
}

QemuOutcome RunQemu(const QemuConfig& config, const WatchOptions& watch, const fs::path& qemu_log) {
  for (const auto& path : {config.console_log, config.channel_file}) {
    std::error_code ec;
    fs::remove(path, ec);
  }
  const auto argv = QemuArgv(config);
  QemuOutcome outcome;
  const auto start = Clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };
  std::unique_ptr<bp::child> qemu;
  try {
    qemu = std::make_unique<bp::child>(
        argv[0], bp::args(std::vector<std::string>(argv.begin() + 1, argv.end())),
        bp::std_in<bp::null, (bp::std_out & bp::std_err)> qemu_log.string(), ChildSetup(getpid()));
  } catch (const std::exception& e) {
    throw VmError("cannot start " + argv[0] + ": " + e.what());
  }
  // The group, not just qemu: nothing it might start survives it.
  auto kill_qemu = [&] {
    kill(-qemu->id(), SIGKILL);
    std::error_code ec;
    qemu->wait(ec);
  };

  off_t seen = 0;
  std::optional<Clock::time_point> ended_at;
  while (true) {
    std::error_code ec;
    const bool alive = qemu->running(ec);
    const off_t size = FileSize(config.channel_file);
    if (size != seen) {
      seen = size;
      const auto p = ScanChannel(config.channel_file, size);
      if (p.booted && !outcome.booted) outcome.booted = true, outcome.boot_s = elapsed();
      if (p.running && !outcome.running) outcome.running = true, outcome.running_s = elapsed();
      if (p.ended && !outcome.finished) outcome.finished = true, ended_at = Clock::now();
    }
    if (!alive) break;
    const auto now = Clock::now();
    if (watch.should_stop && watch.should_stop()) {
      outcome.stopped = true;
      kill_qemu();
      break;
    }
    if (!outcome.booted && now - start > watch.boot_timeout) {
      outcome.boot_timed_out = true;
      kill_qemu();
      break;
    }
    if (!outcome.finished && now - start > watch.run_timeout) {
      outcome.run_timed_out = true;
      kill_qemu();
      break;
    }
    if (ended_at && now - *ended_at > watch.end_grace) {  // results are in; power-off hangs
      kill_qemu();
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(outcome.booted ? 20 : 5));
  }
  std::error_code ec;
  qemu->wait(ec);
  outcome.total_s = elapsed();
  const int native = qemu->native_exit_code();
  if (WIFEXITED(native)) outcome.exit_code = WEXITSTATUS(native);
  return outcome;
}

std::vector<std::string> KernelProblems(const std::string& log) {
  static const char* const kMarks[] = {"Kernel panic", "BUG:", "WARNING:", "Oops",
                                       "general protection fault"};
  std::vector<std::string> found;
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line) && found.size() < 50;) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    // Kernel lines only (printk's "[ seconds]" stamp), so that the runner's own output on the
    // console cannot count; a panic is recognised even without the stamp.
    const bool kernel_line = line.size() > 3 && line[0] == '[' &&
                             line.find(']') != std::string::npos &&
                             line.find_first_not_of(" 0123456789.", 1) == line.find(']');
    if (!kernel_line && line.find("Kernel panic - not syncing") == std::string::npos) continue;
    for (const char* mark : kMarks) {
      if (line.find(mark) != std::string::npos) {
        found.push_back(line);
        break;
      }
    }
  }
  return found;
}

}  // namespace conform::vm
