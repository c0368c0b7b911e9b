// Shared by the fixtures' unit tests (fixtures_test): whether an fd is open, inode numbers of
// paths, fds and the thread's netns, what a matcher says about a value, and a temporary folder.
#pragma once

#include <fcntl.h>
#include <gmock/gmock.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <utility>

#include "fixtures/error.h"

namespace conform {

using ::testing::HasSubstr;
using ::testing::Matches;
using ::testing::Not;
using ::testing::StartsWith;

inline bool FdIsOpen(int fd) { return fcntl(fd, F_GETFD) != -1; }

inline ino_t InodeOf(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) throw SystemError("stat " + path, errno);
  return st.st_ino;
}

inline ino_t InodeOfFd(int fd) {
  struct stat st {};
  if (fstat(fd, &st) != 0) throw SystemError("fstat", errno);
  return st.st_ino;
}

inline ino_t ThreadNetnsInode() { return InodeOf("/proc/thread-self/ns/net"); }

// What a matcher says about a value: whether it matches, and its explanation.
template <typename M, typename T>
inline std::pair<bool, std::string> Explain(const M& matcher, const T& value) {
  ::testing::StringMatchResultListener listener;
  const bool matched = ::testing::ExplainMatchResult(matcher, value, &listener);
  return {matched, listener.str()};
}

// A fresh folder under $TMPDIR (or /tmp), removed with everything in it at the end.
class TempDir {
 public:
  TempDir() {
    std::string templ =
        (std::filesystem::temp_directory_path() / "netns-conform-fixtures-test.XXXXXX").string();
    if (!mkdtemp(templ.data())) throw SystemError("mkdtemp", errno);
    path_ = templ;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace conform
