// flock(2) on a lock file for as long as the object lives: one fetch or build at a time per cache
// entry, across processes (the kernel cache and the no-netns build share it).
#pragma once

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "vm/error.h"

namespace conform::vm {

class ExclusiveFileLock {
 public:
  explicit ExclusiveFileLock(const std::filesystem::path& path) {
    fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throw VmError("cannot open " + path.string() + ": " + std::strerror(errno));
    while (flock(fd_, LOCK_EX) != 0) {
      if (errno != EINTR) {
        const int saved = errno;
        close(fd_);
        throw VmError("cannot lock " + path.string() + ": " + std::strerror(saved));
      }
    }
  }
  ~ExclusiveFileLock() { close(fd_); }
  ExclusiveFileLock(const ExclusiveFileLock&) = delete;
  ExclusiveFileLock& operator=(const ExclusiveFileLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace conform::vm
