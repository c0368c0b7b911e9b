#include "vm/cpio.h"

#include <sys/stat.h>
#include <zlib.h>

#include <cstdio>

#include "vm/error.h"

namespace conform::vm {
namespace {

std::string Relative(const std::string& path) {
  if (path.empty() || path[0] != '/' || path.find("/../") != std::string::npos ||
      path.find("//") != std::string::npos || path.back() == '/')
    throw VmError("internal: bad initramfs path '" + path + "'");
  return path.substr(1);
}

}  // namespace

void CpioWriter::Parents(const std::string& path) {
  for (size_t slash = path.find('/', 1); slash != std::string::npos;
       slash = path.find('/', slash + 1)) {
    const std::string dir = path.substr(0, slash);
    if (dirs_.insert(dir).second) Entry(dir, S_IFDIR | 0755, {});
  }
}

void CpioWriter::Directory(const std::string& path, unsigned mode) {
  Parents(path);
  if (dirs_.insert(path).second) Entry(path, S_IFDIR | (mode & 07777), {});
}

void CpioWriter::File(const std::string& path, std::string_view content, unsigned mode) {
  Parents(path);
  Entry(path, S_IFREG | (mode & 07777), content);
}

void CpioWriter::Symlink(const std::string& path, const std::string& target) {
  Parents(path);
  Entry(path, S_IFLNK | 0777, target);
}

void CpioWriter::CharDevice(const std::string& path, unsigned major, unsigned minor,
                            unsigned mode) {
  Parents(path);
  Entry(path, S_IFCHR | (mode & 07777), {}, major, minor);
}

void CpioWriter::Entry(const std::string& path, unsigned mode, std::string_view data,
                       unsigned rmajor, unsigned rminor) {
  const std::string name = path == "TRAILER!!!" ? path : Relative(path);
  char header[111];
  // magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor,
  // namesize (with its NUL), check. mtime 0 keeps the archive reproducible.
  std::snprintf(header, sizeof(header),
                "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X", ino_++, mode, 0, 0,
                S_ISDIR(mode) ? 2 : 1, 0, static_cast<unsigned>(data.size()), 0, 0, rmajor, rminor,
                static_cast<unsigned>(name.size() + 1), 0);
  out_.append(header, 110);
  out_.append(name);
  out_.push_back('\0');
  out_.resize((out_.size() + 3) & ~size_t{3}, '\0');
  out_.append(data);
  out_.resize((out_.size() + 3) & ~size_t{3}, '\0');
}

std::string CpioWriter::Finish() {
  Entry("TRAILER!!!", 0, {});
  dirs_.clear();
  ino_ = 1;
  return std::move(out_);
}

std::string GzipCompress(std::string_view data, int level) {
  z_stream z{};
  if (deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK)
    throw VmError("zlib: deflateInit2 failed");
  std::string out(deflateBound(&z, data.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  if (rc != Z_STREAM_END) throw VmError("zlib: deflate failed (" + std::to_string(rc) + ")");
  return out;
}

}  // namespace conform::vm
