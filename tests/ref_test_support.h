// Shared by the tests of the reference ip-netns(8) implementation (ref_test, see
// tests/ref_test_main.cc for how the process is sandboxed first): netns-ref's path, small file
// and text helpers, and RefTest, the fixture giving each test run and etc folders of its own.
#pragma once

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "fixtures/error.h"
#include "fixtures/fd.h"
#include "fixtures/mountinfo.h"
#include "fixtures/netlink.h"
#include "fixtures/netns.h"
#include "fixtures/ref/ref_monitor.h"
#include "fixtures/ref/ref_netns.h"
#include "fixtures/ref/run_dir.h"
#include "fixtures/sandbox_mounts.h"
#include "tests/ref_process.h"

namespace conform::ref {

// netns-ref as this process can start it (main() in ref_test_main.cc sets it).
std::string& RefBinaryPath();
const std::string& RefBinary();

using reftest::Process;
using reftest::ProcessResult;
using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using ::testing::UnorderedElementsAre;
using ::testing::UnorderedElementsAreArray;

inline constexpr auto kDeadline = seconds(20);

// ---- helpers -----------------------------------------------------------------------------------

using MountEntry = MountInfoEntry;

inline std::string MountInfoText() {
  std::ifstream in("/proc/self/mountinfo");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

inline bool Exists(const std::string& path) {
  struct stat st {};
  return lstat(path.c_str(), &st) == 0;
}

inline NetnsIdentity IdentityOfPath(const std::string& path) {
  FileDescriptor fd(
      static_cast<int>(CheckSyscall(open(path.c_str(), O_RDONLY | O_CLOEXEC), "open " + path)));
  return IdentifyNetns(fd.get());
}

inline void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  ASSERT_TRUE(out.good()) << path;
}

inline std::vector<std::string> Names(const std::vector<ListEntry>& entries) {
  std::vector<std::string> names;
  for (const auto& entry : entries) names.push_back(entry.name);
  return names;
}

inline std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The errno of a RefError thrown by fn (0 when none was thrown) and its message.
template <typename Fn>
inline std::pair<int, std::string> ErrorOf(Fn&& fn) {
  try {
    fn();
  } catch (const RefError& e) {
    return {e.err() ? e.err() : -1, e.what()};
  }
  return {0, ""};
}

class RefTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    // A fresh folder per run of a test (--gtest_repeat runs it again in the same /tmp).
    static int runs = 0;
    base_ = std::string("/tmp/ref-") + info->name() + "-" + std::to_string(++runs);
    ASSERT_EQ(mkdir(base_.c_str(), 0755), 0) << base_;
    options_.run_dir = base_ + "/run";  // missing: add makes it
    options_.etc_dir = base_ + "/etc";
    options_.warn = [this](const std::string& message) { warnings_.push_back(message); };
  }

  void TearDown() override {
    // Detach every name so that this test's netns die with it, whatever it left behind.
    try {
      DeleteAll(options_);
    } catch (const RefError&) {
    }
  }

  std::string Path(const std::string& name) const { return NamePath(options_.run_dir, name); }

  // netns-ref with this test's folders.
  std::vector<std::string> Cli(std::vector<std::string> args) const {
    args.insert(args.begin(),
                {RefBinary(), "--run-dir", options_.run_dir, "--etc-dir", options_.etc_dir});
    return args;
  }
  ProcessResult RunCli(const std::vector<std::string>& args) const {
    return reftest::Run(Cli(args), kDeadline);
  }

  std::string base_;
  Options options_;
  std::vector<std::string> warnings_;
};

}  // namespace conform::ref
