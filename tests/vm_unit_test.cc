// Unit tests of the VM sandbox library (vm/): the pieces that need no qemu. The boot itself is
// tested by vm_smoke_test.sh and vm_bad_input_test.sh.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <lz4.h>
#include <lzma.h>
#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "vm/channel.h"
#include "vm/cpio.h"
#include "vm/error.h"
#include "vm/initramfs.h"
#include "vm/kernel_cache.h"
#include "vm/kernel_image.h"
#include "vm/qemu.h"

namespace conform::vm {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

namespace fs = std::filesystem;

// A scratch folder removed with the test.
class ScratchDir {
 public:
  ScratchDir() {
    char tmpl[] = "/tmp/vm_unit_test.XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

struct CpioEntry {
  unsigned mode = 0, rmajor = 0, rminor = 0;
  std::string data;
};

// Reads a newc archive back, checking the format rules the kernel relies on.
std::map<std::string, CpioEntry> ReadCpio(const std::string& a) {
  std::map<std::string, CpioEntry> entries;
  size_t at = 0;
  auto hex = [&](size_t field) {
    return static_cast<unsigned>(std::stoul(a.substr(at + 6 + field * 8, 8), nullptr, 16));
  };
  while (true) {
    EXPECT_EQ(at % 4, 0u);
    EXPECT_EQ(a.substr(at, 6), "070701");
    const unsigned mode = hex(1), size = hex(6), rmajor = hex(9), rminor = hex(10),
                   namesize = hex(11);
    std::string name = a.substr(at + 110, namesize - 1);
    EXPECT_EQ(a[at + 110 + namesize - 1], '\0');
    at = (at + 110 + namesize + 3) & ~size_t{3};
    if (name == "TRAILER!!!") break;
    entries[name] = {mode, rmajor, rminor, a.substr(at, size)};
    at = (at + size + 3) & ~size_t{3};
  }
  EXPECT_EQ(at, a.size());
  return entries;
}

TEST(Cpio, WritesNewcEntriesWithParentsAndAlignment) {
  CpioWriter w;
  w.File("/etc/netns-conform/run.args", "--filter\nVeth.*\n");
  w.Symlink("/bin/sh", "busybox");
  w.CharDevice("/dev/console", 5, 1);
  w.File("/a", "xyz", 0755);
  auto entries = ReadCpio(w.Finish());
  ASSERT_TRUE(entries.count("etc"));
  EXPECT_EQ(entries["etc"].mode, 040755u);
  ASSERT_TRUE(entries.count("etc/netns-conform"));
  EXPECT_EQ(entries["etc/netns-conform/run.args"].data, "--filter\nVeth.*\n");
  EXPECT_EQ(entries["etc/netns-conform/run.args"].mode, 0100644u);
  EXPECT_EQ(entries["bin/sh"].mode, 0120777u);
  EXPECT_EQ(entries["bin/sh"].data, "busybox");
  EXPECT_EQ(entries["dev/console"].mode, 020600u);
  EXPECT_EQ(entries["dev/console"].rmajor, 5u);
  EXPECT_EQ(entries["dev/console"].rminor, 1u);
  EXPECT_EQ(entries["a"].mode, 0100755u);
}

TEST(Cpio, RejectsPathsThatAreNotAbsoluteAndClean) {
  CpioWriter w;
  EXPECT_THROW(w.File("relative", ""), VmError);
  EXPECT_THROW(w.File("/a/../b", ""), VmError);
  EXPECT_THROW(w.File("/a//b", ""), VmError);
}

TEST(Cpio, RunArgsArchiveHoldsOneArgumentALine) {
  auto entries = ReadCpio(RunArgsArchive({"--filter", "Refund.*", "-j", "2"}));
  EXPECT_EQ(entries["etc/netns-conform/run.args"].data, "--filter\nRefund.*\n-j\n2\n");
  EXPECT_THROW(RunArgsArchive({"two\nlines"}), VmError);
}

std::string Sample() {
  std::string s;
  for (int i = 0; i < 200000; ++i) s += "netns " + std::to_string(i % 977) + "\n";
  return s;
}

TEST(Decompress, GzipRoundTrip) {
  const std::string data = Sample();
  EXPECT_EQ(Gunzip(GzipCompress(data, 6)), data);
  EXPECT_THROW(Gunzip(GzipCompress(data, 1).substr(0, 1000)), VmError);
}

TEST(Decompress, XzRoundTrip) {
  const std::string data = Sample();
  std::string out(data.size() + 1024, '\0');
  size_t pos = 0;
  ASSERT_EQ(lzma_easy_buffer_encode(1, LZMA_CHECK_CRC32, nullptr,
                                    reinterpret_cast<const uint8_t*>(data.data()), data.size(),
                                    reinterpret_cast<uint8_t*>(out.data()), &pos, out.size()),
            LZMA_OK);
  out.resize(pos);
  EXPECT_EQ(Unxz(out), data);
  EXPECT_EQ(DecompressModule("veth.ko.xz", out), data);
  EXPECT_THROW(Unxz("not xz at all"), VmError);
}

TEST(Decompress, ZstdRoundTrip) {
  const std::string data = Sample();
  std::string out(ZSTD_compressBound(data.size()), '\0');
  const size_t n = ZSTD_compress(out.data(), out.size(), data.data(), data.size(), 3);
  ASSERT_FALSE(ZSTD_isError(n));
  out.resize(n);
  EXPECT_EQ(Unzstd(out), data);
  EXPECT_EQ(DecompressModule("dummy.ko.zst", out), data);
}

// The kernel's lz4 payload: legacy frame magic, then blocks of (le32 size, lz4 block).
TEST(Decompress, Lz4LegacyFramesAsTheKernelWritesThem) {
  const std::string data = Sample() + Sample() + Sample() + Sample() + Sample() + Sample();
  ASSERT_GT(data.size(), size_t{8} << 20);  // more than one 8 MiB block
  std::string frame("\x02\x21\x4c\x18", 4);
  for (size_t at = 0; at < data.size(); at += 8 << 20) {
    const size_t len = std::min(data.size() - at, size_t{8} << 20);
    std::string block(LZ4_compressBound(static_cast<int>(len)), '\0');
    const int n = LZ4_compress_default(data.data() + at, block.data(), static_cast<int>(len),
                                       static_cast<int>(block.size()));
    ASSERT_GT(n, 0);
    const uint32_t size = static_cast<uint32_t>(n);
    frame.append(reinterpret_cast<const char*>(&size), 4);
    frame.append(block.data(), static_cast<size_t>(n));
  }
  EXPECT_EQ(Unlz4Legacy(frame, data.size()), data);
  EXPECT_EQ(Unlz4Legacy(frame), data);
  EXPECT_THROW(Unlz4Legacy(frame, data.size() + 1), VmError);
  EXPECT_THROW(Unlz4Legacy("nope"), VmError);
}

TEST(Decompress, PlainModulesAndUnknownSuffixes) {
  EXPECT_EQ(DecompressModule("veth.ko", "bytes"), "bytes");
  EXPECT_THROW(DecompressModule("veth.ko.bz2", "bytes"), VmError);
}

// A minimal ELF64 x86-64 with one PT_NOTE holding `notes`, and a banner.
std::string FakeElf(const std::string& notes) {
  std::string elf(64 + 56, '\0');
  const char ident[] =
      "\x7f"
      "ELF\x02\x01\x01";
  std::memcpy(elf.data(), ident, 7);
  auto put16 = [&](size_t at, uint16_t v) { std::memcpy(elf.data() + at, &v, 2); };
  auto put32 = [&](size_t at, uint32_t v) { std::memcpy(elf.data() + at, &v, 4); };
  auto put64 = [&](size_t at, uint64_t v) { std::memcpy(elf.data() + at, &v, 8); };
  put16(18, 62);                 // EM_X86_64
  put64(32, 64);                 // e_phoff
  put16(54, 56);                 // e_phentsize
  put16(56, 1);                  // e_phnum
  put32(64, 4);                  // PT_NOTE
  put64(64 + 8, elf.size());     // p_offset
  put64(64 + 32, notes.size());  // p_filesz
  elf += notes;
  elf += std::string("Linux version 6.1.0-test (x@y) #1 SMP\n", 38);
  return elf;
}

std::string Note(const std::string& name, uint32_t type, const std::string& desc) {
  std::string n(12, '\0');
  const uint32_t namesz = static_cast<uint32_t>(name.size() + 1),
                 descsz = static_cast<uint32_t>(desc.size());
  std::memcpy(n.data(), &namesz, 4);
  std::memcpy(n.data() + 4, &descsz, 4);
  std::memcpy(n.data() + 8, &type, 4);
  n += name;
  n.push_back('\0');
  n.resize((n.size() + 3) & ~size_t{3}, '\0');
  n += desc;
  n.resize((n.size() + 3) & ~size_t{3}, '\0');
  return n;
}

TEST(KernelImage, ElfWithAndWithoutPvhNote) {
  const std::string pvh =
      FakeElf(Note("Xen", 6, "linux") + Note("Xen", 18, std::string("\0\0\0\1", 4)));
  EXPECT_TRUE(ElfHasPvhNote(pvh));
  auto info = InspectKernelImage(pvh, "vmlinux");
  EXPECT_EQ(info.format, ImageFormat::kElf);
  EXPECT_TRUE(info.pvh);
  EXPECT_EQ(info.release, "6.1.0-test");
  EXPECT_FALSE(ElfHasPvhNote(FakeElf(Note("Xen", 6, "linux"))));
  EXPECT_FALSE(ElfHasPvhNote(FakeElf(Note("GNU", 18, "abcd"))));
}

TEST(KernelImage, BzImageHeaderReleaseAndPayload) {
  // setup_sects 1: the payload starts at 2 * 512 + payload_offset.
  std::string img(0x800, '\0');
  img[0x1f1] = 1;
  std::memcpy(img.data() + 0x202, "HdrS", 4);
  const uint16_t proto = 0x20f, version_at = 0x300;
  std::memcpy(img.data() + 0x206, &proto, 2);
  std::memcpy(img.data() + 0x20e, &version_at, 2);
  const char banner[] = "6.12.7-custom (me@host) #3 SMP";
  std::memcpy(img.data() + 0x500, banner, sizeof(banner));
  const std::string elf = FakeElf(Note("Xen", 18, std::string("\0\0\0\1", 4)));
  const std::string payload = GzipCompress(elf, 6);
  const uint32_t offset = 0x800 - 1024, length = static_cast<uint32_t>(payload.size() + 4);
  const uint32_t size = static_cast<uint32_t>(elf.size());
  std::memcpy(img.data() + 0x248, &offset, 4);
  std::memcpy(img.data() + 0x24c, &length, 4);
  img += payload;
  img.append(reinterpret_cast<const char*>(&size), 4);
  auto info = InspectKernelImage(img, "bzImage");
  EXPECT_EQ(info.format, ImageFormat::kBzImage);
  EXPECT_EQ(info.release, "6.12.7-custom");
  EXPECT_EQ(info.compression, "gzip");
  auto extracted = ExtractVmlinux(img);
  ASSERT_TRUE(extracted.has_value());
  EXPECT_EQ(*extracted, elf);
}

TEST(KernelImage, NotAKernelIsOneLineError) {
  try {
    InspectKernelImage("root:x:0:0:root:/root:/bin/bash\n", "/etc/passwd");
    FAIL() << "no error";
  } catch (const VmError& e) {
    EXPECT_THAT(e.what(), HasSubstr("/etc/passwd is not a Linux kernel"));
    EXPECT_THAT(e.what(), Not(HasSubstr("\n")));
  }
}

TEST(KernelImage, IkconfigBetweenMarkers) {
  const std::string config = "CONFIG_NET_NS=y\nCONFIG_VETH=m\n";
  const std::string image = "junk IKCFG_ST" + GzipCompress(config, 9) + "IKCFG_ED junk";
  EXPECT_EQ(ExtractIkconfig(image), config);
  EXPECT_FALSE(ExtractIkconfig("no config here").has_value());
}

TEST(Kconfig, ReadsPlainAndGzip) {
  ScratchDir dir;
  const std::string text = "# comment\nCONFIG_NET_NS=y\n# CONFIG_E1000 is not set\nCONFIG_VETH=m\n";
  std::ofstream(dir.path() / "plain") << text;
  std::ofstream(dir.path() / "gz", std::ios::binary) << GzipCompress(text, 6);
  for (const char* name : {"plain", "gz"}) {
    auto config = ReadKconfig(dir.path() / name);
    EXPECT_EQ(KconfigValue(config, "CONFIG_NET_NS"), "y");
    EXPECT_EQ(KconfigValue(config, "CONFIG_VETH"), "m");
    EXPECT_EQ(KconfigValue(config, "CONFIG_E1000"), "n");
  }
  EXPECT_TRUE(ReadKconfig("").empty());
}

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

TEST(Channel, ParsesMarkersJournalAndFrames) {
  const std::string tar_bytes = "TARDATA\nwith\nnewlines";
  std::string ch =
      "NCVM 1 BOOTED uptime=1.23 release=6.1.0-56-cloud-amd64\n"
      "NCVM 1 RUNNING uptime=1.40 nic=eth0\n"
      "J {\"id\":\"A.B\",\"status\":\"PASS\"}\n"
      "NCVM 1 DMESG size=6\n[0] x\n"
      "NCVM 1 RUNLOG size=0\n"
      "NCVM 1 RESULTS size=" +
      std::to_string(tar_bytes.size()) + " status=1\n" + tar_bytes + "NCVM 1 END\n";
  auto c = ParseChannel(ch);
  EXPECT_TRUE(c.booted);
  EXPECT_TRUE(c.running);
  EXPECT_TRUE(c.ended);
  EXPECT_EQ(c.booted_fields["release"], "6.1.0-56-cloud-amd64");
  EXPECT_EQ(c.running_fields["nic"], "eth0");
  ASSERT_EQ(c.journal.size(), 1u);
  EXPECT_EQ(c.dmesg, "[0] x\n");
  EXPECT_EQ(c.runner_log, "");
  EXPECT_EQ(c.results_tar, tar_bytes);
  EXPECT_EQ(c.runner_status, 1);
  EXPECT_TRUE(c.error.empty()) << c.error;

  auto cut = ParseChannel(ch.substr(0, ch.find("TARDATA") + 3));
  EXPECT_FALSE(cut.ended);
  EXPECT_FALSE(cut.results_tar.has_value());
  EXPECT_THAT(cut.error, HasSubstr("cut off"));
  EXPECT_EQ(cut.journal.size(), 1u);
}

// A ustar archive: (name, type, data) entries.
std::string Tar(const std::vector<std::tuple<std::string, char, std::string>>& entries) {
  std::string tar;
  for (const auto& [name, type, data] : entries) {
    std::string h(512, '\0');
    std::memcpy(h.data(), name.data(), std::min<size_t>(name.size(), 100));
    std::snprintf(h.data() + 100, 8, "%07o", 0644);
    std::snprintf(h.data() + 124, 12, "%011zo", data.size());
    h[156] = type;
    std::memcpy(h.data() + 257, "ustar", 5);
    tar += h + data;
    tar.resize((tar.size() + 511) & ~size_t{511}, '\0');
  }
  return tar + std::string(1024, '\0');
}

TEST(Tar, ExtractsFilesAndFoldersOnly) {
  ScratchDir dir;
  ExtractTar(Tar({{"./", '5', ""},
                  {"./logs/", '5', ""},
                  {"./results.json", '0', "{}\n"},
                  {"./logs/A.B.log", '0', "log"},
                  {"./link", '2', ""}}),
             dir.path());
  EXPECT_TRUE(fs::is_directory(dir.path() / "logs"));
  std::ifstream in(dir.path() / "results.json");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "{}\n");
  EXPECT_TRUE(fs::exists(dir.path() / "logs/A.B.log"));
  EXPECT_FALSE(fs::exists(dir.path() / "link"));
}

TEST(Tar, RefusesNamesThatLeaveTheFolder) {
  ScratchDir dir;
  EXPECT_THROW(ExtractTar(Tar({{"../escape", '0', "x"}}), dir.path() / "out"), VmError);
  EXPECT_THROW(ExtractTar(Tar({{"/etc/escape", '0', "x"}}), dir.path() / "out"), VmError);
  EXPECT_THROW(ExtractTar(Tar({{"a/../../escape", '0', "x"}}), dir.path() / "out"), VmError);
  EXPECT_FALSE(fs::exists(dir.path() / "escape"));
  const std::string cut = Tar({{"big", '0', std::string(4096, 'x')}}).substr(0, 1500);
  EXPECT_THROW(ExtractTar(cut, dir.path() / "out"), VmError);
}

TEST(KernelCache, UnknownAndBadNamesAreOneLineErrors) {
  ScratchDir dir;
  KernelCache cache(dir.path());
  try {
    cache.Get("debian-9");
    FAIL() << "no error";
  } catch (const VmError& e) {
    EXPECT_THAT(e.what(), HasSubstr("unknown kernel 'debian-9'"));
    EXPECT_THAT(e.what(), HasSubstr("debian-6.1-cloud"));
  }
  EXPECT_THROW(cache.Get("../etc"), VmError);
  EXPECT_THROW(cache.Get(""), VmError);
  EXPECT_FALSE(cache.Cached("debian-6.1").has_value());
}

TEST(KernelCache, UserKernelRejectsMissingAndNonKernelFiles) {
  ScratchDir dir;
  EXPECT_THROW(UserKernel({dir.path() / "nope"}, dir.path()), VmError);
  std::ofstream(dir.path() / "text") << "hello\n";
  try {
    UserKernel({dir.path() / "text"}, dir.path());
    FAIL() << "no error";
  } catch (const VmError& e) {
    EXPECT_THAT(e.what(), HasSubstr("is not a Linux kernel"));
  }
  std::ofstream(dir.path() / "vmlinux", std::ios::binary) << FakeElf(Note("Xen", 6, "linux"));
  EXPECT_THROW(UserKernel({dir.path() / "vmlinux"}, dir.path()), VmError);  // no PVH note
  EXPECT_THROW(UserKernel({dir.path() / "vmlinux", dir.path() / "no-modules"}, dir.path()),
               VmError);
}

TEST(Initramfs, GuestInitSpeaksTheChannelProtocol) {
  const std::string init = GuestInitScript();
  EXPECT_EQ(init.rfind("#!/bin/sh\n", 0), 0u);
  for (const char* marker : {"NCVM 1 BOOTED", "NCVM 1 RUNNING", "NCVM 1 END", "send RESULTS",
                             "send DMESG", "poweroff -f", "NETNS_CONFORM_DISPOSABLE_HOST=1",
                             "NETNS_CONFORM_KCONFIG", "--spare-nic", kResultPortName})
    EXPECT_THAT(init, HasSubstr(marker));
}

}  // namespace
}  // namespace conform::vm
