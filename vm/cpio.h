// A writer for the "newc" cpio format the kernel unpacks as an initramfs
// (Documentation/driver-api/early-userspace/buffer-format.rst), and gzip for the whole archive.
// Written here rather than with the cpio tool: the format is 110-byte ASCII headers and 4-byte
// alignment, and writing it in memory needs no staging folder, no tool and no root-owned files
// (owners, modes and device nodes are whatever the header says).
#pragma once

#include <set>
#include <string>
#include <string_view>

namespace conform::vm {

class CpioWriter {
 public:
  // Paths are absolute in the guest ("/bin/sh"); missing parent folders are added (0755).
  void Directory(const std::string& path, unsigned mode = 0755);
  void File(const std::string& path, std::string_view content, unsigned mode = 0644);
  void Symlink(const std::string& path, const std::string& target);
  void CharDevice(const std::string& path, unsigned major, unsigned minor, unsigned mode = 0600);
  // Appends the TRAILER!!! entry and hands over the archive; the writer is empty afterwards.
  std::string Finish();
  size_t size() const { return out_.size(); }

 private:
  void Parents(const std::string& path);
  void Entry(const std::string& path, unsigned mode, std::string_view data, unsigned rmajor = 0,
             unsigned rminor = 0);
  std::string out_;
  std::set<std::string> dirs_;
  unsigned ino_ = 1;
};

// gzip (RFC 1952) of `data` at zlib `level` (1 fastest .. 9 smallest).
std::string GzipCompress(std::string_view data, int level);

}  // namespace conform::vm
