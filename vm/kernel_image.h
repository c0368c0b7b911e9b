// What a kernel file is, and the uncompressed ELF inside a bzImage: qemu boots that directly
// through its PVH entry, which skips the in-guest decompression (slow under TCG: DESIGN.md §6).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace conform::vm {

enum class ImageFormat { kBzImage, kElf };

struct KernelImageInfo {
  ImageFormat format = ImageFormat::kBzImage;
  std::string version;  // the banner after "Linux version ", e.g. "6.1.0-56-cloud-amd64 (...) #1"
  std::string release;  // its first word: what `uname -r` prints in the guest
  std::string compression;  // bzImage payload: gzip xz zstd lz4 bzip2 lzma lzo, or "unknown"
  bool pvh = false;         // an ELF with the Xen PVH entry note: qemu -kernel can start it
};

// Throws VmError("<name> is not a Linux kernel (...)") for anything but an x86 bzImage or an
// x86-64 ELF vmlinux.
KernelImageInfo InspectKernelImage(std::string_view bytes, const std::string& name);

// The ELF vmlinux inside a bzImage; nullopt when the payload uses a compression this library
// does not read (bzip2, lzma, lzo), in which case the bzImage itself is booted.
std::optional<std::string> ExtractVmlinux(std::string_view bzimage);

// The kernel's own config when it was built with CONFIG_IKCONFIG (the gzip blob between
// IKCFG_ST and IKCFG_ED, as scripts/extract-ikconfig finds it); `image` is a vmlinux or bzImage.
std::optional<std::string> ExtractIkconfig(std::string_view image);

bool ElfHasPvhNote(std::string_view elf);

// Decompressors (VmError on corrupt input). Gunzip also reads zlib streams.
std::string Gunzip(std::string_view data);
std::string Unxz(std::string_view data);
std::string Unzstd(std::string_view data);
// LZ4 "legacy" frames, as the kernel's own lz4 compression writes them; stops at
// `expected_size` when it is non-zero (a bzImage payload ends with its decompressed size).
std::string Unlz4Legacy(std::string_view data, size_t expected_size = 0);

// Writes <dir>/vmlinux when the bzImage (`image`, whose bytes are `image_bytes`) holds one qemu
// can start through PVH; returns the image qemu should boot (`image` otherwise).
std::filesystem::path PrepareBootImage(const std::string& image_bytes,
                                       const std::filesystem::path& image,
                                       const std::filesystem::path& dir);

// A module file's bytes decompressed by its name: .ko as it is, .ko.xz, .ko.gz, .ko.zst.
std::string DecompressModule(const std::string& file_name, std::string_view bytes);

}  // namespace conform::vm
