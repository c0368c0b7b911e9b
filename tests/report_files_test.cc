// Tests of WriteFileAtomically (reports/json_report.h): a report file is replaced whole or not at
// all, and no temporary file is left.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "reports/json_report.h"
#include "reports/junit_report.h"
#include "reports/result_model.h"
#include "tests/report_samples.h"

namespace conform {
namespace {

std::string WriteRejectionOf(const fs::path& path, const std::string& content) {
  try {
    WriteFileAtomically(path, content);
  } catch (const ReportError& e) {
    return e.what();
  }
  return "";
}

TEST(WriteFileAtomicallyTest, CreatesAndReplacesLeavingNoTemporaryFile) {
  TempDir dir;
  const fs::path path = dir.path() / "junit.xml";
  const mode_t old_umask = ::umask(022);
  WriteFileAtomically(path, "first");
  ::umask(old_umask);
  EXPECT_EQ(ReadFile(path), "first");
  EXPECT_EQ(fs::status(path).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                fs::perms::others_read);
  WriteFileAtomically(path, std::string(100000, 'x'));
  EXPECT_EQ(ReadFile(path), std::string(100000, 'x'));
  WriteFileAtomically(path, "");
  EXPECT_EQ(ReadFile(path), "");
  EXPECT_THAT(Listing(dir.path()), ElementsAre("junit.xml"));
}

TEST(WriteFileAtomicallyTest, RelativePathUsesCurrentFolder) {
  TempDir dir;
  const fs::path old_cwd = fs::current_path();
  fs::current_path(dir.path());
  WriteFileAtomically("plain.txt", "text");
  fs::current_path(old_cwd);
  EXPECT_EQ(ReadFile(dir.path() / "plain.txt"), "text");
  EXPECT_THAT(Listing(dir.path()), ElementsAre("plain.txt"));
}

TEST(WriteFileAtomicallyTest, MissingFolderFailsAndCreatesNothing) {
  TempDir dir;
  const fs::path path = dir.path() / "absent" / "results.json";
  EXPECT_THAT(WriteRejectionOf(path, "x"),
              AllOf(OneLine(), HasSubstr("cannot write " + path.string()), HasSubstr("ENOENT"),
                    HasSubstr("No such file or directory")));
  EXPECT_FALSE(fs::exists(dir.path() / "absent"));
  EXPECT_TRUE(Listing(dir.path()).empty());
}

TEST(WriteFileAtomicallyTest, FailedRenameRemovesTemporaryFile) {
  TempDir dir;
  // The target is a non-empty folder: everything works up to rename(2), which fails.
  const fs::path path = dir.path() / "results.json";
  fs::create_directory(path);
  WriteRaw(path / "inside", "keep");
  EXPECT_THAT(WriteRejectionOf(path, "new content"),
              AllOf(OneLine(), HasSubstr("cannot write " + path.string()), HasSubstr("renaming"),
                    HasSubstr("EISDIR")));
  EXPECT_THAT(Listing(dir.path()), ElementsAre("results.json"));
  EXPECT_TRUE(fs::is_directory(path));
  EXPECT_EQ(ReadFile(path / "inside"), "keep");
}

TEST(WriteFileAtomicallyTest, FailedWriteKeepsOldFileWhole) {
  TempDir dir;
  const fs::path path = dir.path() / "results.json";
  WriteFileAtomically(path, "old complete content");

  // Make write(2) fail part-way with EFBIG: a file size limit, with SIGXFSZ ignored.
  struct rlimit old_limit;
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  struct rlimit limit = old_limit;
  limit.rlim_cur = 4096;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &limit), 0);
  struct sigaction ignore = {}, old_action = {};
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(::sigaction(SIGXFSZ, &ignore, &old_action), 0);
  const std::string message = WriteRejectionOf(path, std::string(100000, 'n'));
  ::sigaction(SIGXFSZ, &old_action, nullptr);
  ::setrlimit(RLIMIT_FSIZE, &old_limit);

  EXPECT_THAT(message, AllOf(OneLine(), HasSubstr("cannot write " + path.string()),
                             HasSubstr("writing"), HasSubstr("EFBIG")));
  EXPECT_EQ(ReadFile(path), "old complete content");
  EXPECT_THAT(Listing(dir.path()), ElementsAre("results.json"));
}

TEST(WriteFileAtomicallyTest, ReadOnlyFolderFailsAndCreatesNothing) {
  TempDir dir;
  const fs::path folder = dir.path() / "ro";
  fs::create_directory(folder);
  fs::permissions(folder, fs::perms::owner_read | fs::perms::owner_exec);
  // With CAP_DAC_OVERRIDE (root) the mode does not stop writes; nothing to test then.
  const fs::path probe = folder / "probe";
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) {
    ::close(fd);
    ::unlink(probe.c_str());
    GTEST_SKIP() << "folder modes do not apply to this process (CAP_DAC_OVERRIDE)";
  }
  const fs::path path = folder / "results.json";
  EXPECT_THAT(WriteRejectionOf(path, "x"),
              AllOf(OneLine(), HasSubstr("cannot write " + path.string()), HasSubstr("EACCES")));
  fs::permissions(folder, fs::perms::owner_all);
  EXPECT_TRUE(Listing(folder).empty());
}

TEST(WriteFileAtomicallyTest, RejectsPathWithoutFileName) {
  TempDir dir;
  EXPECT_THAT(WriteRejectionOf(dir.path().string() + "/", "x"),
              AllOf(OneLine(), HasSubstr("not a file name")));
  EXPECT_TRUE(Listing(dir.path()).empty());
}

}  // namespace
}  // namespace conform
