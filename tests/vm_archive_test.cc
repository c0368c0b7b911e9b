// Unit tests of the VM library's archives: the cpio writer, the run-arguments archive, the
// guest's /init, the result channel and the strict tar reader.
// The boot itself is tested by vm_smoke_test.sh and vm_bad_input_test.sh.
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

#include "tests/vm_test_support.h"
#include "vm/channel.h"
#include "vm/cpio.h"
#include "vm/error.h"
#include "vm/initramfs.h"
#include "vm/kernel_cache.h"
#include "vm/kernel_image.h"
#include "vm/qemu.h"

namespace conform::vm {
namespace {

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
