// Unit tests of the VM library's qemu side: the machine chosen, the command line, the host TSC
// and the kernel problems found in a console.
// The boot itself is tested by vm_smoke_test.sh and vm_bad_input_test.sh.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <lz4.h>
#include <lzma.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "tests/vm_test_support.h"
#include "vm/channel.h"
#include "vm/cpio.h"
#include "vm/error.h"
#include "vm/initramfs.h"
#include "vm/kernel_cache.h"
#include "vm/kernel_image.h"
#include "vm/qemu.h"
#include "vm/tools.h"

namespace conform::vm {
namespace {

TEST(Machine, MicrovmOnlyWhenTheKernelCanUseIt) {
  Kconfig cloud = {{"CONFIG_VIRTIO_MMIO", "m"}, {"CONFIG_ACPI", "y"}, {"CONFIG_VIRTIO_PCI", "m"}};
  std::string why;
  EXPECT_EQ(ChooseMachine(cloud, true, &why), Machine::kMicrovm);
  EXPECT_EQ(ChooseMachine(cloud, false, &why), Machine::kQ35);
  EXPECT_THAT(why, HasSubstr("PVH"));
  EXPECT_EQ(ChooseMachine({}, true, &why), Machine::kQ35);
  EXPECT_THAT(why, HasSubstr("unknown"));
  Kconfig no_mmio = {{"CONFIG_VIRTIO_PCI", "y"}, {"CONFIG_ACPI", "y"}};
  EXPECT_EQ(ChooseMachine(no_mmio, true, &why), Machine::kQ35);
  Kconfig no_acpi = {{"CONFIG_VIRTIO_MMIO", "y"}};
  EXPECT_EQ(ChooseMachine(no_acpi, true, &why), Machine::kQ35);
  no_acpi["CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES"] = "y";
  EXPECT_EQ(ChooseMachine(no_acpi, true, &why), Machine::kMicrovm);
}

TEST(Qemu, CommandLineKeepsTheGuestOffTheHostNetwork) {
  QemuConfig c;
  c.qemu_binary = "/usr/bin/qemu-system-x86_64";
  c.machine = Machine::kMicrovm;
  c.kernel = "/k/vmlinux";
  c.initrd = "/w/initrd";
  c.cmdline = KernelCmdline(Machine::kMicrovm, 2096011, "");
  c.console_log = "/w/console.log";
  c.channel_file = "/w/channel";
  auto argv = QemuArgv(c);
  std::string joined;
  for (const auto& a : argv) joined += a + " ";
  EXPECT_THAT(argv, Contains("-nodefaults"));
  EXPECT_THAT(argv, Contains("-no-reboot"));
  EXPECT_THAT(argv, Contains("hubport,id=n1,hubid=7"));
  EXPECT_THAT(argv, Contains("virtio-net-device,netdev=n1,mac=52:54:00:12:34:56"));
  EXPECT_THAT(argv,
              Contains("virtserialport,bus=vser0.0,chardev=results,name=netns-conform.results"));
  // Every backend is a hub port; no -nic/-net shortcut that could bring user-mode networking.
  for (size_t i = 0; i + 1 < argv.size(); ++i) {
    if (argv[i] == "-netdev") {
      EXPECT_EQ(argv[i + 1].rfind("hubport,", 0), 0u) << argv[i + 1];
    }
  }
  EXPECT_THAT(argv, Not(Contains("-nic")));
  EXPECT_THAT(argv, Not(Contains("-net")));
  EXPECT_THAT(joined, Not(HasSubstr("user,")));
  EXPECT_THAT(joined, Not(HasSubstr("tap,")));
  EXPECT_THAT(joined, Not(HasSubstr("bridge,")));
  EXPECT_THAT(c.cmdline, HasSubstr("tsc_early_khz=2096011"));
  EXPECT_THAT(c.cmdline, HasSubstr("panic=-1"));

  c.machine = Machine::kQ35;
  c.guest_nic = false;
  c.accelerator = Accelerator::kKvm;
  argv = QemuArgv(c);
  EXPECT_THAT(argv, Contains("virtio-serial-pci,id=vser0"));
  EXPECT_THAT(argv, Contains("host"));
  EXPECT_THAT(argv, Not(Contains("-netdev")));
  EXPECT_THAT(KernelCmdline(Machine::kQ35, 2096011, "x=1"), Not(HasSubstr("tsc_early_khz")));
}

TEST(Qemu, HostTscIsPlausible) {
  std::string source;
  auto khz = HostTscKhz(&source);
  ASSERT_TRUE(khz.has_value());
  EXPECT_GT(*khz, 100000) << source;    // > 100 MHz
  EXPECT_LT(*khz, 10000000) << source;  // < 10 GHz
}

// The KVM probe's firmware is right: under TCG, which needs nothing from the host, it ends qemu
// through isa-debug-exit. So a "no" from KvmUsable is KVM's, never the probe's.
TEST(Qemu, ProbeFirmwareRunsUnderTcg) {
  if (!FindTool("qemu-system-x86_64")) GTEST_SKIP() << "qemu-system-x86_64 is not installed";
  EXPECT_EQ(ProbeQemuGuest(Accelerator::kTcg), "");
}

// Where /dev/kvm answers, KvmUsable is the verdict of qemu running a guest on it, not of the
// device's presence (a host whose qemu -cpu host aborts has one); it says why whenever it says no.
TEST(Qemu, KvmUsableIsQemusVerdict) {
  std::string why;
  const bool usable = KvmUsable(&why);
  EXPECT_EQ(usable, why.empty()) << why;
  const int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    EXPECT_FALSE(usable) << "/dev/kvm does not open here";
    return;
  }
  close(fd);
  if (!FindTool("qemu-system-x86_64")) GTEST_SKIP() << "qemu-system-x86_64 is not installed";
  const std::string probe = ProbeQemuGuest(Accelerator::kKvm);
  EXPECT_EQ(usable, probe.empty())
      << "KvmUsable: " << (usable ? "yes" : why) << "; probe: " << probe;
}

TEST(Qemu, KernelProblemsFindsTheMarkers) {
  const std::string log =
      "[    1.0] ok\n[    2.0] WARNING: CPU: 0 PID: 1 at net/core/dev.c:1 x\n"
      "[    3.0] BUG: kernel NULL pointer dereference\n[    4.0] Oops: 0002 [#1] SMP\n"
      "[    5.0] Kernel panic - not syncing: Attempted to kill init!\nfine\n"
      "[3/31] FAIL    Suite.Case: BUG: in the runner's words, not the kernel's\n"
      "Kernel panic - not syncing: without a timestamp\n";
  auto found = KernelProblems(log);
  ASSERT_EQ(found.size(), 5u);
  EXPECT_THAT(found[3], HasSubstr("Kernel panic"));
  EXPECT_THAT(found[4], HasSubstr("without a timestamp"));
}

}  // namespace
}  // namespace conform::vm
