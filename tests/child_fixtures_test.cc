// Unit tests of RunInChild (fixtures/child.h): exit codes, signals, exceptions, timeouts,
// recorded calls, uid and capability changes.
// Run as root inside `unshare --net --mount --propagation private` (see tests/CMakeLists.txt):
// every namespace made here dies with the test process.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "fixtures/child.h"
#include "fixtures/error.h"
#include "fixtures/fd.h"
#include "fixtures/holder.h"
#include "fixtures/netns.h"
#include "fixtures/probe.h"
#include "fixtures/requirements.h"
#include "fixtures/syscall_matchers.h"
#include "tests/fixtures_test_support.h"

namespace conform {
namespace {

// ---- RunInChild --------------------------------------------------------------------------------

TEST(RunInChild, ANormalReturnIsExitZero) {
  auto child = RunInChild({}, [](ChildChannel& ch) { ch.Note("hello", "world two"); });
  EXPECT_TRUE(child.Ok()) << child.Describe();
  EXPECT_EQ(child.exit_code, 0);
  EXPECT_EQ(child.term_signal, 0);
  EXPECT_FALSE(child.timed_out);
  EXPECT_EQ(child.notes["hello"], "world two");
}

TEST(RunInChild, ReportsTheExitCode) {
  auto child = RunInChild({}, [](ChildChannel&) { _exit(7); });
  EXPECT_EQ(child.exit_code, 7);
  EXPECT_EQ(child.term_signal, 0);
  EXPECT_FALSE(child.Ok());
  EXPECT_THAT(child.Describe(), HasSubstr("exit_code=7"));
}

TEST(RunInChild, ReportsTheSignalThatKilledIt) {
  auto child = RunInChild({}, [](ChildChannel&) { raise(SIGKILL); });
  EXPECT_EQ(child.term_signal, SIGKILL);
  EXPECT_EQ(child.exit_code, -1);
  EXPECT_FALSE(child.timed_out);
  EXPECT_FALSE(child.Ok());
}

TEST(RunInChild, AnExceptionIsExitOneWithItsText) {
  auto child = RunInChild({}, [](ChildChannel&) { throw std::runtime_error("kaboom\nline two"); });
  EXPECT_EQ(child.exit_code, 1);
  EXPECT_EQ(child.notes["exception"], "kaboom line two");
}

TEST(RunInChild, TimeoutKillsAndReapsTheChild) {
  const auto start = std::chrono::steady_clock::now();
  auto child = RunInChild({.timeout = std::chrono::milliseconds(200)}, [](ChildChannel& ch) {
    ch.Note("pid", std::to_string(getpid()));
    for (;;) pause();
  });
  const long elapsed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::steady_clock::now() - start)
                              .count();
  EXPECT_TRUE(child.timed_out);
  EXPECT_FALSE(child.Ok());
  EXPECT_EQ(child.term_signal, SIGKILL);
  EXPECT_GE(elapsed_ms, 200);
  EXPECT_LT(elapsed_ms, 5000);
  ASSERT_FALSE(child.notes["pid"].empty()) << child.Describe();
  const pid_t pid = std::stoi(child.notes["pid"]);
  // A zombie still answers kill(pid, 0); only a reaped child is gone.
  EXPECT_THAT(kill(pid, 0), SyscallFailsWithErrno(ESRCH));
  EXPECT_THAT(waitpid(pid, nullptr, WNOHANG), SyscallFailsWithErrno(ECHILD));
}

TEST(RunInChild, RecordsCallsWithTheirErrno) {
  auto child = RunInChild({}, [](ChildChannel& ch) {
    ch.Record("close_bad", close(-1));
    ch.Record("getpid", getpid());
    const long rc = ch.Record("dup_bad", dup(-1));
    ch.Note("errno_after_record", ErrnoName(errno));
    ch.Note("rc_returned", std::to_string(rc));
  });
  ASSERT_TRUE(child.Ok()) << child.Describe();
  EXPECT_THAT(child.Call("close_bad"), SyscallFailsWithErrno(EBADF));
  EXPECT_THAT(child.Call("getpid"), SyscallSucceeds());
  EXPECT_THAT(child.Call("dup_bad"), SyscallFailsWithErrno(EBADF));
  EXPECT_EQ(child.notes["errno_after_record"], "EBADF");  // Record leaves errno as it found it
  EXPECT_EQ(child.notes["rc_returned"], "-1");
}

TEST(RunInChild, AnUnrecordedCallFailsEveryMatcher) {
  auto child = RunInChild({}, [](ChildChannel& ch) { ch.Record("made", 0); });
  ASSERT_TRUE(child.Ok()) << child.Describe();
  const SyscallResult never = child.Call("never_made");
  EXPECT_FALSE(Matches(SyscallSucceeds())(never));
  EXPECT_FALSE(Matches(SyscallSucceedsWithValue(0))(never));
  EXPECT_FALSE(Matches(SyscallSucceedsWithValue(-1))(never));
  EXPECT_FALSE(Matches(SyscallFailsWithErrno(EPERM))(never));
  EXPECT_FALSE(Matches(SyscallFailsWithErrno(ENOENT))(never));
  EXPECT_FALSE(Matches(SyscallFailsWithErrno(-1))(never));
  auto [matched, why] = Explain(SyscallFailsWithErrno(EPERM), never);
  EXPECT_FALSE(matched);
  EXPECT_THAT(why, HasSubstr("never made"));
  EXPECT_THAT(child.Call("made"), SyscallSucceedsWithValue(0));
}

TEST(RunInChild, UidChangeRunsTheChildAsNobody) {
  auto child = RunInChild({.uid = kNobodyUid}, [](ChildChannel& ch) {
    ch.Note("euid", std::to_string(geteuid()));
    ch.Note("egid", std::to_string(getegid()));
    ch.Record("unshare_net", unshare(CLONE_NEWNET));
  });
  ASSERT_TRUE(child.Ok()) << child.Describe();
  EXPECT_EQ(child.notes["euid"], "65534");
  EXPECT_EQ(child.notes["egid"], std::to_string(kNogroupGid));
  EXPECT_THAT(child.Call("unshare_net"), SyscallFailsWithErrno(EPERM));
}

TEST(RunInChild, DropAllCapsKeepsUidZeroButLosesCapabilities) {
  auto child = RunInChild({.drop_all_caps = true}, [](ChildChannel& ch) {
    ch.Note("euid", std::to_string(geteuid()));
    ch.Record("unshare_net", unshare(CLONE_NEWNET));
    // Harmless if it ever succeeded: the new UTS namespace would be the child's alone.
    ch.Record("unshare_uts", unshare(CLONE_NEWUTS));
  });
  ASSERT_TRUE(child.Ok()) << child.Describe();
  EXPECT_EQ(child.notes["euid"], "0");
  EXPECT_THAT(child.Call("unshare_net"), SyscallFailsWithErrno(EPERM));
  EXPECT_THAT(child.Call("unshare_uts"), SyscallFailsWithErrno(EPERM));
}

TEST(RunInChild, NewUserNsMakesTheChangedUidRootInside) {
  auto child = RunInChild({.uid = kNobodyUid, .new_user_ns = true}, [](ChildChannel& ch) {
    ch.Note("uid", std::to_string(getuid()));
    ch.Note("gid", std::to_string(getgid()));
    std::ifstream map("/proc/self/uid_map");
    uid_t inside = 1, outside = 0, count = 0;
    map >> inside >> outside >> count;
    ch.Note("uid_map",
            std::to_string(inside) + ":" + std::to_string(outside) + ":" + std::to_string(count));
    // Root of its own user namespace: may make a netns owned by it.
    ch.Record("unshare_net", unshare(CLONE_NEWNET));
  });
  ASSERT_TRUE(child.Ok()) << child.Describe();
  EXPECT_EQ(child.notes["uid"], "0");
  EXPECT_EQ(child.notes["gid"], "0");
  EXPECT_EQ(child.notes["uid_map"], "0:65534:1");
  EXPECT_THAT(child.Call("unshare_net"), SyscallSucceeds());
}

// A child that has already dropped its capabilities cannot change uid: its own RunInChild with
// .uid fails in setup (setgroups needs CAP_SETGID), which must come back as setup_error with
// the step and errno, and fn must never run.
TEST(RunInChild, OptionsThatCannotBeAppliedAreASetupError) {
  auto outer = RunInChild({.drop_all_caps = true}, [](ChildChannel& ch) {
    auto inner = RunInChild({.uid = kNobodyUid},
                            [](ChildChannel& inner_ch) { inner_ch.Note("fn_ran", "yes"); });
    ch.Note("inner_setup_error", inner.setup_error);
    ch.Note("inner_exit", std::to_string(inner.exit_code));
    ch.Note("inner_fn_ran", inner.notes.count("fn_ran") ? "yes" : "no");
    ch.Note("inner_ok", inner.Ok() ? "yes" : "no");
  });
  ASSERT_TRUE(outer.Ok()) << outer.Describe();
  EXPECT_EQ(outer.notes["inner_setup_error"], "setgroups(0): EPERM (Operation not permitted)");
  EXPECT_EQ(outer.notes["inner_exit"], "3");
  EXPECT_EQ(outer.notes["inner_fn_ran"], "no");
  EXPECT_EQ(outer.notes["inner_ok"], "no");
}

// ---- HolderProcess -----------------------------------------------------------------------------

TEST(HolderProcess, AnExceptionInTheSetupIsItsMessage) {
  HolderProcess holder([]() -> HolderSetup { throw std::runtime_error("no way in"); });
  EXPECT_FALSE(holder.setup().ok());
  EXPECT_EQ(holder.setup().err, 0);
  EXPECT_EQ(holder.setup().message, "no way in");
  const pid_t pid = holder.pid();
  try {
    holder.CheckSetup("enter");
    FAIL() << "CheckSetup accepted a failed setup";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "enter: no way in");
  }
  EXPECT_EQ(holder.pid(), -1) << "CheckSetup releases the child before it throws";
  EXPECT_THAT(kill(pid, 0), SyscallFailsWithErrno(ESRCH));
}

TEST(HolderProcess, AnErrnoOfTheSetupThrowsAsASystemError) {
  HolderProcess holder([] { return HolderSetup{.err = EPERM, .message = ""}; });
  EXPECT_EQ(holder.setup().err, EPERM);
  try {
    holder.CheckSetup("enter");
    FAIL() << "CheckSetup accepted a failed setup";
  } catch (const SystemError& e) {
    EXPECT_EQ(e.err(), EPERM);
  }
}

// What the case holds open when it makes a holder (here a marked memfd; in a case, another
// holder's release pipe) is not held by the holder: releasing never waits on another process.
TEST(HolderProcess, KeepsNoFdOfTheCaller) {
  FileDescriptor marker(memfd_create("holder-test-marker", MFD_CLOEXEC));
  ASSERT_TRUE(marker.valid());
  HolderProcess holder([] { return HolderSetup{}; });
  ASSERT_TRUE(holder.setup().ok());
  int marked = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator("/proc/" + std::to_string(holder.pid()) + "/fd")) {
    std::error_code ec;
    const auto target = std::filesystem::read_symlink(entry.path(), ec);
    marked += !ec && target.string().find("holder-test-marker") != std::string::npos;
  }
  EXPECT_EQ(marked, 0);
}

}  // namespace
}  // namespace conform
