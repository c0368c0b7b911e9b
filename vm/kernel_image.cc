#include "vm/kernel_image.h"

#include <lz4.h>
#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

#include <cstdint>
#include <cstring>

#include "vm/error.h"
#include "vm/tools.h"

namespace conform::vm {
namespace {

uint16_t Le16(std::string_view b, size_t at) {
  return static_cast<uint16_t>(static_cast<unsigned char>(b[at]) |
                               static_cast<unsigned char>(b[at + 1]) << 8);
}
uint32_t Le32(std::string_view b, size_t at) {
  return static_cast<uint32_t>(Le16(b, at)) | static_cast<uint32_t>(Le16(b, at + 2)) << 16;
}
uint64_t Le64(std::string_view b, size_t at) {
  return static_cast<uint64_t>(Le32(b, at)) | static_cast<uint64_t>(Le32(b, at + 4)) << 32;
}

bool StartsWith(std::string_view b, std::string_view magic) {
  return b.size() >= magic.size() && b.substr(0, magic.size()) == magic;
}

bool IsBzImage(std::string_view b) { return b.size() > 0x250 && b.substr(0x202, 4) == "HdrS"; }
bool IsElf64(std::string_view b) {
  return b.size() > 64 &&
         StartsWith(b,
                    "\x7f"
                    "ELF") &&
         b[4] == 2 && b[5] == 1;
}

std::string CompressionOf(std::string_view payload) {
  if (StartsWith(payload, "\x1f\x8b")) return "gzip";
  if (StartsWith(payload, std::string_view("\xfd"
                                           "7zXZ\0",
                                           6)))
    return "xz";
  if (StartsWith(payload, "\x28\xb5\x2f\xfd")) return "zstd";
  if (StartsWith(payload, "\x02\x21\x4c\x18")) return "lz4";
  if (StartsWith(payload, "BZh")) return "bzip2";
  if (StartsWith(payload, std::string_view("\x5d\0\0", 3))) return "lzma";
  if (StartsWith(payload, "\x89LZO")) return "lzo";
  return "unknown";
}

// The compressed payload of a bzImage (boot protocol 2.08+), without the 4-byte decompressed
// size the kernel build appends; that size goes to `size`.
std::string_view Payload(std::string_view b, uint32_t* size) {
  if (Le16(b, 0x206) < 0x208) throw VmError("bzImage boot protocol older than 2.08");
  size_t setup_sects = static_cast<unsigned char>(b[0x1f1]);
  if (setup_sects == 0) setup_sects = 4;
  const size_t start = (setup_sects + 1) * 512 + Le32(b, 0x248);
  const size_t length = Le32(b, 0x24c);
  if (length < 8 || start + length > b.size()) throw VmError("bzImage payload out of bounds");
  *size = Le32(b, start + length - 4);
  return b.substr(start, length - 4);
}

std::string BannerRelease(const std::string& version) {
  return version.substr(0, version.find(' '));
}

}  // namespace

KernelImageInfo InspectKernelImage(std::string_view bytes, const std::string& name) {
  KernelImageInfo info;
  if (IsBzImage(bytes)) {
    info.format = ImageFormat::kBzImage;
    const size_t version_at = Le16(bytes, 0x20e);
    if (version_at != 0 && version_at + 0x200 < bytes.size()) {
      std::string_view rest = bytes.substr(version_at + 0x200);
      info.version = std::string(rest.substr(0, std::min(rest.find('\0'), size_t{256})));
    }
    uint32_t size = 0;
    try {
      info.compression = CompressionOf(Payload(bytes, &size));
    } catch (const VmError&) {
      info.compression = "unknown";
    }
  } else if (IsElf64(bytes)) {
    if (Le16(bytes, 18) != 62 /* EM_X86_64 */)
      throw VmError(name + " is an ELF file but not for x86-64");
    info.format = ImageFormat::kElf;
    info.pvh = ElfHasPvhNote(bytes);
    static constexpr std::string_view kBanner = "Linux version ";
    const auto at = bytes.find(kBanner);
    if (at == std::string_view::npos)
      throw VmError(name + " is an ELF file but not a Linux kernel");
    std::string_view rest = bytes.substr(at + kBanner.size());
    info.version =
        std::string(rest.substr(0, std::min(rest.find_first_of("\n\0", 0, 2), size_t{256})));
  } else {
    throw VmError(name + " is not a Linux kernel (neither an x86 bzImage nor an ELF vmlinux)");
  }
  info.release = BannerRelease(info.version);
  return info;
}

std::optional<std::string> ExtractVmlinux(std::string_view bzimage) {
  if (!IsBzImage(bzimage)) return std::nullopt;
  uint32_t size = 0;
  std::string_view payload = Payload(bzimage, &size);
  const std::string kind = CompressionOf(payload);
  std::string elf;
  if (kind == "gzip") {
    // Kbuild appends the size to every payload but a gzip one, whose own trailer (ISIZE) ends
    // the payload: give the stream its last 4 bytes back (Payload() is bounds-checked with them).
    elf = Gunzip(std::string_view(payload.data(), payload.size() + 4));
  } else if (kind == "xz") {
    elf = Unxz(payload);
  } else if (kind == "zstd") {
    elf = Unzstd(payload);
  } else if (kind == "lz4") {
    elf = Unlz4Legacy(payload, size);
  } else {
    return std::nullopt;
  }
  if (!IsElf64(elf)) throw VmError("the decompressed bzImage payload is not an ELF vmlinux");
  return elf;
}

std::optional<std::string> ExtractIkconfig(std::string_view image) {
  const auto start = image.find("IKCFG_ST");
  if (start == std::string_view::npos) return std::nullopt;
  const auto end = image.find("IKCFG_ED", start);
  if (end == std::string_view::npos) return std::nullopt;
  try {
    return Gunzip(image.substr(start + 8, end - start - 8));
  } catch (const VmError&) {
    return std::nullopt;
  }
}

bool ElfHasPvhNote(std::string_view elf) {
  if (!IsElf64(elf)) return false;
  const uint64_t phoff = Le64(elf, 32);
  const size_t phentsize = Le16(elf, 54), phnum = Le16(elf, 56);
  for (size_t i = 0; i < phnum; ++i) {
    const size_t ph = phoff + i * phentsize;
    if (ph + 56 > elf.size() || Le32(elf, ph) != 4 /* PT_NOTE */) continue;
    size_t at = Le64(elf, ph + 8);
    const size_t end = at + Le64(elf, ph + 32);
    while (at + 12 <= end && end <= elf.size()) {
      const size_t namesz = Le32(elf, at), descsz = Le32(elf, at + 4), type = Le32(elf, at + 8);
      const std::string_view name = elf.substr(at + 12, namesz);
      if (type == 18 /* XEN_ELFNOTE_PHYS32_ENTRY */ && name == std::string_view("Xen\0", 4))
        return true;
      at += 12 + ((namesz + 3) & ~size_t{3}) + ((descsz + 3) & ~size_t{3});
    }
  }
  return false;
}

std::string Gunzip(std::string_view data) {
  z_stream z{};
  if (inflateInit2(&z, 15 + 32) != Z_OK) throw VmError("zlib: inflateInit2 failed");
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  std::string out;
  char buf[1 << 16];
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof(buf);
    rc = inflate(&z, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&z);
      throw VmError("gzip data is corrupt (zlib error " + std::to_string(rc) + ")");
    }
    out.append(buf, sizeof(buf) - z.avail_out);
    if (rc == Z_OK && z.avail_in == 0 && z.avail_out != 0) {
      inflateEnd(&z);
      throw VmError("gzip data is truncated");
    }
  }
  inflateEnd(&z);
  return out;
}

std::string Unxz(std::string_view data) {
  lzma_stream z = LZMA_STREAM_INIT;
  if (lzma_stream_decoder(&z, UINT64_MAX, 0) != LZMA_OK) throw VmError("liblzma: init failed");
  z.next_in = reinterpret_cast<const uint8_t*>(data.data());
  z.avail_in = data.size();
  std::string out;
  uint8_t buf[1 << 16];
  lzma_ret rc = LZMA_OK;
  while (rc != LZMA_STREAM_END) {
    z.next_out = buf;
    z.avail_out = sizeof(buf);
    rc = lzma_code(&z, z.avail_in == 0 ? LZMA_FINISH : LZMA_RUN);
    if (rc != LZMA_OK && rc != LZMA_STREAM_END) {
      lzma_end(&z);
      throw VmError("xz data is corrupt (liblzma error " + std::to_string(rc) + ")");
    }
    out.append(reinterpret_cast<char*>(buf), sizeof(buf) - z.avail_out);
  }
  lzma_end(&z);
  return out;
}

std::string Unzstd(std::string_view data) {
  ZSTD_DCtx* z = ZSTD_createDCtx();
  if (!z) throw VmError("libzstd: cannot create a context");
  ZSTD_DCtx_setParameter(z, ZSTD_d_windowLogMax, 31);  // the kernel build uses --ultra -22
  ZSTD_inBuffer in{data.data(), data.size(), 0};
  std::string out;
  std::string buf(ZSTD_DStreamOutSize(), '\0');
  size_t rc = 1;
  while (in.pos < in.size && rc != 0) {
    ZSTD_outBuffer o{buf.data(), buf.size(), 0};
    rc = ZSTD_decompressStream(z, &o, &in);
    if (ZSTD_isError(rc)) {
      std::string why = ZSTD_getErrorName(rc);
      ZSTD_freeDCtx(z);
      throw VmError("zstd data is corrupt: " + why);
    }
    out.append(buf.data(), o.pos);
  }
  // Flush whatever the decoder still holds.
  while (rc != 0) {
    ZSTD_outBuffer o{buf.data(), buf.size(), 0};
    rc = ZSTD_decompressStream(z, &o, &in);
    if (ZSTD_isError(rc) || o.pos == 0) break;
    out.append(buf.data(), o.pos);
  }
  ZSTD_freeDCtx(z);
  if (rc != 0) throw VmError("zstd data is truncated");
  return out;
}

std::string Unlz4Legacy(std::string_view data, size_t expected_size) {
  static constexpr uint32_t kMagic = 0x184C2102;
  static constexpr size_t kBlock = 8 << 20;  // legacy frames hold blocks of at most 8 MiB
  if (data.size() < 4 || Le32(data, 0) != kMagic) throw VmError("not an lz4 legacy frame");
  std::string out;
  if (expected_size) out.reserve(expected_size);
  size_t at = 4;
  while (at + 4 <= data.size()) {
    if (expected_size && out.size() >= expected_size) break;
    const uint32_t block = Le32(data, at);
    at += 4;
    if (block == kMagic) continue;  // a concatenated frame
    if (block > data.size() - at) throw VmError("lz4 data is truncated");
    const size_t before = out.size();
    out.resize(before + kBlock);
    const int n = LZ4_decompress_safe(data.data() + at, out.data() + before,
                                      static_cast<int>(block), static_cast<int>(kBlock));
    if (n < 0) throw VmError("lz4 data is corrupt");
    out.resize(before + static_cast<size_t>(n));
    at += block;
  }
  if (expected_size && out.size() != expected_size)
    throw VmError("lz4 data decompressed to " + std::to_string(out.size()) + " bytes, not " +
                  std::to_string(expected_size));
  return out;
}

std::string DecompressModule(const std::string& file_name, std::string_view bytes) {
  auto ends = [&](std::string_view suffix) {
    return file_name.size() >= suffix.size() &&
           file_name.compare(file_name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (ends(".ko")) return std::string(bytes);
  if (ends(".ko.xz")) return Unxz(bytes);
  if (ends(".ko.gz")) return Gunzip(bytes);
  if (ends(".ko.zst")) return Unzstd(bytes);
  throw VmError("unknown module compression: " + file_name);
}

std::filesystem::path PrepareBootImage(const std::string& image_bytes,
                                       const std::filesystem::path& image,
                                       const std::filesystem::path& dir) {
  std::optional<std::string> elf;
  try {
    elf = ExtractVmlinux(image_bytes);
  } catch (const VmError&) {
    elf.reset();  // an unreadable payload: the bzImage boots the slow way
  }
  if (!elf || !ElfHasPvhNote(*elf)) return image;
  WriteFileReplacing(dir / "vmlinux", *elf, 0644);
  return dir / "vmlinux";
}

}  // namespace conform::vm
