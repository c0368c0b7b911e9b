// Unit tests of the VM library's kernels: decompressors, bzImage and ELF inspection, IKCONFIG,
// kernel configs, the kernel cache's and user kernels' refusals.
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

}  // namespace
}  // namespace conform::vm
