// Unit tests of the fixtures' basics: FileDescriptor and Cleanup, errno naming, SystemError and
// CheckSyscall, the syscall matchers.
// Run as root inside `unshare --net --mount --propagation private` (see tests/CMakeLists.txt):
// every namespace made here dies with the test process.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
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
#include "fixtures/netns.h"
#include "fixtures/probe.h"
#include "fixtures/requirements.h"
#include "fixtures/syscall_matchers.h"
#include "tests/fixtures_test_support.h"

namespace conform {
namespace {

// ---- FileDescriptor ----------------------------------------------------------------------------

struct Pipe {
  int read_end = -1, write_end = -1;
  Pipe() {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) throw SystemError("pipe2", errno);
    read_end = fds[0];
    write_end = fds[1];
  }
};

TEST(FileDescriptor, DefaultHoldsNothing) {
  FileDescriptor fd;
  EXPECT_EQ(fd.get(), -1);
  EXPECT_FALSE(fd.valid());
  EXPECT_FALSE(static_cast<bool>(fd));
}

TEST(FileDescriptor, ClosesWhenScopeEnds) {
  Pipe p;
  {
    FileDescriptor r(p.read_end);
    EXPECT_TRUE(r.valid());
    EXPECT_EQ(r.get(), p.read_end);
  }
  EXPECT_FALSE(FdIsOpen(p.read_end));
  close(p.write_end);
}

// After reset() the number is free; the kernel hands it to the next open. A second close by the
// destructor would close that unrelated file.
TEST(FileDescriptor, ClosesExactlyOnce) {
  Pipe p;
  close(p.write_end);
  const int number = p.read_end;
  FileDescriptor* fd = new FileDescriptor(number);
  fd->reset();
  EXPECT_FALSE(FdIsOpen(number));
  const int reused = open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_EQ(reused, number) << "the kernel did not reuse the lowest free fd number";
  delete fd;  // must not close `reused`
  EXPECT_TRUE(FdIsOpen(reused));
  close(reused);
}

TEST(FileDescriptor, MoveConstructionTransfersOwnership) {
  Pipe p;
  close(p.write_end);
  FileDescriptor a(p.read_end);
  {
    FileDescriptor b(std::move(a));
    EXPECT_EQ(b.get(), p.read_end);
    EXPECT_EQ(a.get(), -1);  // NOLINT(bugprone-use-after-move): the moved-from state is the test
    EXPECT_FALSE(a.valid());
    EXPECT_TRUE(FdIsOpen(p.read_end));
  }
  EXPECT_FALSE(FdIsOpen(p.read_end));
}

TEST(FileDescriptor, MoveAssignmentClosesTheOldAndTakesTheNew) {
  Pipe p;
  FileDescriptor a(p.read_end);
  FileDescriptor b(p.write_end);
  b = std::move(a);
  EXPECT_FALSE(FdIsOpen(p.write_end));  // b's old fd
  EXPECT_TRUE(FdIsOpen(p.read_end));
  EXPECT_EQ(b.get(), p.read_end);
  EXPECT_EQ(a.get(), -1);  // NOLINT(bugprone-use-after-move)
  b.reset();
  EXPECT_FALSE(FdIsOpen(p.read_end));
}

TEST(FileDescriptor, SelfMoveAssignmentKeepsTheFd) {
  Pipe p;
  close(p.write_end);
  FileDescriptor a(p.read_end);
  FileDescriptor& alias = a;
  a = std::move(alias);
  EXPECT_EQ(a.get(), p.read_end);
  EXPECT_TRUE(FdIsOpen(p.read_end));
}

TEST(FileDescriptor, ReleaseGivesUpOwnershipWithoutClosing) {
  Pipe p;
  close(p.write_end);
  int released;
  {
    FileDescriptor fd(p.read_end);
    released = fd.release();
    EXPECT_EQ(fd.get(), -1);
    EXPECT_FALSE(fd.valid());
  }
  EXPECT_EQ(released, p.read_end);
  EXPECT_TRUE(FdIsOpen(released));
  close(released);
}

TEST(FileDescriptor, ResetClosesTheOldAndHoldsTheNew) {
  Pipe p;
  FileDescriptor fd(p.read_end);
  fd.reset(p.write_end);
  EXPECT_FALSE(FdIsOpen(p.read_end));
  EXPECT_TRUE(FdIsOpen(p.write_end));
  EXPECT_EQ(fd.get(), p.write_end);
  fd.reset();
  EXPECT_FALSE(FdIsOpen(p.write_end));
  EXPECT_FALSE(fd.valid());
}

// ---- Cleanup -----------------------------------------------------------------------------------

TEST(Cleanup, RunsOnceAtScopeEnd) {
  int runs = 0;
  {
    Cleanup cleanup([&] { ++runs; });
    EXPECT_EQ(runs, 0);
  }
  EXPECT_EQ(runs, 1);
}

TEST(Cleanup, DefaultDoesNothing) {
  Cleanup cleanup;  // destructor must not call an empty std::function
  SUCCEED();
}

TEST(Cleanup, ReleasedNeverRuns) {
  int runs = 0;
  {
    Cleanup cleanup([&] { ++runs; });
    cleanup.release();
  }
  EXPECT_EQ(runs, 0);
}

TEST(Cleanup, MoveConstructionRunsOnlyInTheNewOwner) {
  int runs = 0;
  {
    Cleanup outer([&] { ++runs; });
    {
      Cleanup inner(std::move(outer));
      EXPECT_EQ(runs, 0);
    }
    EXPECT_EQ(runs, 1);  // inner ran it
  }
  EXPECT_EQ(runs, 1);  // the moved-from one did not run it again
}

TEST(Cleanup, MoveAssignmentRunsTheReplacedActionAtOnce) {
  int first = 0, second = 0;
  {
    Cleanup a([&] { ++first; });
    Cleanup b([&] { ++second; });
    a = std::move(b);
    EXPECT_EQ(first, 1);  // a's own action ran when it was replaced
    EXPECT_EQ(second, 0);
  }
  EXPECT_EQ(first, 1);
  EXPECT_EQ(second, 1);
}

// ---- ErrnoName, SystemError, CheckSyscall --------------------------------------------------

TEST(ErrnoName, NamesKnownErrnos) {
  EXPECT_EQ(ErrnoName(EPERM), "EPERM");
  EXPECT_EQ(ErrnoName(EBADF), "EBADF");
  EXPECT_EQ(ErrnoName(ENOSPC), "ENOSPC");
  EXPECT_EQ(ErrnoName(EINVAL), "EINVAL");
}

TEST(ErrnoName, UnknownNumberIsPrintedAsANumber) {
  EXPECT_EQ(ErrnoName(4242), "errno 4242");
  EXPECT_EQ(ErrnoName(-3), "errno -3");
}

TEST(SystemError, WhatNamesOperationErrnoAndText) {
  const SystemError e("open /nonexistent", ENOENT);
  EXPECT_STREQ(e.what(), "open /nonexistent: ENOENT (No such file or directory)");
  EXPECT_EQ(e.err(), ENOENT);
  const std::runtime_error& base = e;  // catchable as a runtime_error
  EXPECT_THAT(base.what(), StartsWith("open /nonexistent: "));
}

TEST(CheckSyscall, ReturnsNonNegativeResults) {
  EXPECT_EQ(CheckSyscall(0, "zero"), 0);
  EXPECT_EQ(CheckSyscall(42, "forty-two"), 42);
  EXPECT_EQ(CheckSyscall(syscall(SYS_getpid), "getpid"), getpid());
}

TEST(CheckSyscall, ThrowsWithTheErrnoOfTheFailedCall) {
  try {
    CheckSyscall(close(-1), "close(-1)");
    FAIL() << "CheckSyscall did not throw";
  } catch (const SystemError& e) {
    EXPECT_EQ(e.err(), EBADF);
    EXPECT_STREQ(e.what(), "close(-1): EBADF (Bad file descriptor)");
  }
}

// ---- syscall matchers --------------------------------------------------------------------------

TEST(SyscallMatchers, SucceedsOnIntAndLongReturns) {
  EXPECT_THAT(0, SyscallSucceeds());
  EXPECT_THAT(5, SyscallSucceeds());
  const long pid = syscall(SYS_getpid);
  EXPECT_THAT(pid, SyscallSucceeds());
  EXPECT_THAT(pid, SyscallSucceedsWithValue(getpid()));
  EXPECT_THAT(7L, SyscallSucceedsWithValue(7));
}

TEST(SyscallMatchers, SucceedsRejectsAFailureAndNamesItsErrno) {
  const int rc = close(-1);  // EBADF
  auto [matched, why] = Explain(SyscallSucceeds(), rc);
  EXPECT_FALSE(matched);
  EXPECT_EQ(why, "failed with EBADF");
}

TEST(SyscallMatchers, SucceedsWithValueRejectsAnotherValue) {
  auto [matched, why] = Explain(SyscallSucceedsWithValue(5), 6);
  EXPECT_FALSE(matched);
  EXPECT_EQ(why, "succeeded with value 6");
  EXPECT_TRUE(Matches(SyscallSucceedsWithValue(6))(6));
}

TEST(SyscallMatchers, SucceedsWithValueRejectsAFailure) {
  const long rc = syscall(SYS_close, -1);
  auto [matched, why] = Explain(SyscallSucceedsWithValue(-1), rc);
  EXPECT_FALSE(matched);
  EXPECT_EQ(why, "failed with EBADF");
}

TEST(SyscallMatchers, FailsWithErrnoMatchesTheErrnoOfTheCall) {
  EXPECT_THAT(close(-1), SyscallFailsWithErrno(EBADF));
  EXPECT_THAT(syscall(SYS_close, -1), SyscallFailsWithErrno(EBADF));
  EXPECT_THAT(open("/nonexistent/x", O_RDONLY), SyscallFailsWithErrno(ENOENT));
}

TEST(SyscallMatchers, FailsWithErrnoRejectsAnotherErrnoAndNamesTheActualOne) {
  const int rc = close(-1);
  auto [matched, why] = Explain(SyscallFailsWithErrno(EPERM), rc);
  EXPECT_FALSE(matched);
  EXPECT_EQ(why, "failed with EBADF");
}

TEST(SyscallMatchers, FailsWithErrnoRejectsASuccess) {
  auto [matched, why] = Explain(SyscallFailsWithErrno(EPERM), 3);
  EXPECT_FALSE(matched);
  EXPECT_EQ(why, "succeeded with value 3");
  // The errno lying around from an earlier call does not turn a success into a failure.
  errno = EPERM;
  EXPECT_FALSE(Matches(SyscallFailsWithErrno(EPERM))(0));
}

TEST(SyscallMatchers, PointerReturns) {
  errno = 0;
  FILE* missing = fopen("/nonexistent/x", "r");
  EXPECT_THAT(missing, SyscallFailsWithErrno(ENOENT));
  FILE* present = fopen("/dev/null", "r");
  EXPECT_THAT(present, SyscallSucceeds());
  if (present) fclose(present);
}

TEST(SyscallMatchers, SyscallResultCarriesItsOwnErrno) {
  const SyscallResult eperm{-1, EPERM};
  errno = EBADF;  // must be ignored: the result carries EPERM
  EXPECT_THAT(eperm, SyscallFailsWithErrno(EPERM));
  auto [matched, why] = Explain(SyscallFailsWithErrno(EACCES), eperm);
  EXPECT_FALSE(matched);
  EXPECT_EQ(why, "failed with EPERM");
  EXPECT_FALSE(Matches(SyscallSucceeds())(eperm));

  const SyscallResult seven{7, 0};
  errno = EPERM;
  EXPECT_THAT(seven, SyscallSucceeds());
  EXPECT_THAT(seven, SyscallSucceedsWithValue(7));
  auto [matched8, why8] = Explain(SyscallSucceedsWithValue(8), seven);
  EXPECT_FALSE(matched8);
  EXPECT_EQ(why8, "succeeded with value 7");
}

TEST(SyscallMatchers, DescriptionsNameTheErrno) {
  EXPECT_EQ(::testing::DescribeMatcher<int>(SyscallFailsWithErrno(EPERM)), "fails with EPERM");
  EXPECT_EQ(::testing::DescribeMatcher<int>(SyscallSucceeds()), "succeeds");
  EXPECT_EQ(::testing::DescribeMatcher<long>(SyscallSucceedsWithValue(3)), "succeeds with value 3");
  EXPECT_THAT(::testing::DescribeMatcher<int>(SyscallFailsWithErrno(EPERM), /*negation=*/true),
              HasSubstr("EPERM"));
}

}  // namespace
}  // namespace conform
