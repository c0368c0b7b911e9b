// Unit tests of the fixtures the suites stand on: RAII, errno naming, the syscall matchers,
// netns creation and identity, child processes and the kernel-config probe. Run as root inside
// `unshare --net --mount --propagation private` (see tests/CMakeLists.txt): every namespace made
// here dies with the test process.
//
// RunningKernelConfig() caches its first answer for the life of the process, so everything that
// reads it (the kernel-config and requirement tests) does so in a forked child, which starts
// from this process's still-empty cache with its own environment. Nothing in this process calls
// it directly.
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

namespace conform {
namespace {

using ::testing::HasSubstr;
using ::testing::Matches;
using ::testing::Not;
using ::testing::StartsWith;

// ---- helpers -----------------------------------------------------------------------------------

bool FdIsOpen(int fd) { return fcntl(fd, F_GETFD) != -1; }

ino_t InodeOf(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) throw SystemError("stat " + path, errno);
  return st.st_ino;
}

ino_t InodeOfFd(int fd) {
  struct stat st {};
  if (fstat(fd, &st) != 0) throw SystemError("fstat", errno);
  return st.st_ino;
}

ino_t ThreadNetnsInode() { return InodeOf("/proc/thread-self/ns/net"); }

// What a matcher says about a value: whether it matches, and its explanation.
template <typename M, typename T>
std::pair<bool, std::string> Explain(const M& matcher, const T& value) {
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

// ---- network namespaces ------------------------------------------------------------------------

TEST(CreateNetns, LeavesTheCallerWhereItWasAndMakesANewOne) {
  const ino_t before = ThreadNetnsInode();
  FileDescriptor created = CreateNetns();
  ASSERT_TRUE(created.valid());
  EXPECT_EQ(ThreadNetnsInode(), before);
  EXPECT_NE(InodeOfFd(created.get()), before);
  FileDescriptor another = CreateNetns();
  EXPECT_NE(InodeOfFd(another.get()), InodeOfFd(created.get()));
  EXPECT_EQ(ThreadNetnsInode(), before);
}

TEST(CreateNetns, FailsWithEpermWithoutCapSysAdmin) {
  auto child = RunInChild({.drop_all_caps = true}, [](ChildChannel& ch) {
    const ino_t before = ThreadNetnsInode();
    try {
      CreateNetns();
      ch.Note("outcome", "created");
    } catch (const SystemError& e) {
      ch.Note("outcome", ErrnoName(e.err()));
    }
    ch.Note("thread_moved", ThreadNetnsInode() == before ? "no" : "yes");
  });
  ASSERT_TRUE(child.Ok()) << child.Describe();
  EXPECT_EQ(child.notes["outcome"], "EPERM");
  EXPECT_EQ(child.notes["thread_moved"], "no");
}

TEST(RunInNetns, RunsInTheTargetAndLeavesTheCallerAlone) {
  const ino_t ours = ThreadNetnsInode();
  FileDescriptor target = CreateNetns();
  ino_t seen = 0;
  RunInNetns(target.get(), [&] { seen = ThreadNetnsInode(); });
  EXPECT_EQ(seen, InodeOfFd(target.get()));
  EXPECT_NE(seen, ours);
  EXPECT_EQ(ThreadNetnsInode(), ours);
}

struct MarkerError {
  int value;
};

TEST(RunInNetns, PropagatesExceptionsOfTheirOwnType) {
  FileDescriptor target = CreateNetns();
  try {
    RunInNetns(target.get(), [] { throw MarkerError{17}; });
    FAIL() << "nothing was thrown";
  } catch (const MarkerError& e) {
    EXPECT_EQ(e.value, 17);
  }
  EXPECT_THROW(RunInNetns(target.get(), [] { throw std::runtime_error("boom"); }),
               std::runtime_error);
}

TEST(RunInNetns, ABadNetnsFdIsASystemError) {
  bool ran = false;
  try {
    RunInNetns(-1, [&] { ran = true; });
    FAIL() << "nothing was thrown";
  } catch (const SystemError& e) {
    EXPECT_EQ(e.err(), EBADF);
  }
  EXPECT_FALSE(ran);
}

TEST(ScopedNetns, EntersForTheScopeAndComesBack) {
  const ino_t ours = ThreadNetnsInode();
  FileDescriptor target = CreateNetns();
  {
    ScopedNetns scope(target.get());
    EXPECT_EQ(ThreadNetnsInode(), InodeOfFd(target.get()));
  }
  EXPECT_EQ(ThreadNetnsInode(), ours);
}

TEST(ScopedNetns, AFailedEntryThrowsAndStaysPut) {
  const ino_t ours = ThreadNetnsInode();
  FileDescriptor not_a_netns(open("/dev/null", O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(not_a_netns.valid());
  try {
    ScopedNetns scope(not_a_netns.get());
    FAIL() << "entered /dev/null as a netns";
  } catch (const SystemError& e) {
    EXPECT_EQ(e.err(), EINVAL);
  }
  EXPECT_EQ(ThreadNetnsInode(), ours);
}

TEST(IdentifyNetns, TwoFdsToTheSameNetnsAreEqual) {
  FileDescriptor a = OpenCurrentNetns();
  FileDescriptor b(open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(b.valid());
  const NetnsIdentity ia = IdentifyNetns(a.get());
  const NetnsIdentity ib = IdentifyNetns(b.get());
  EXPECT_TRUE(ia == ib) << ia.ToString() << " vs " << ib.ToString();
  EXPECT_EQ(ia.ino, ThreadNetnsInode());
  EXPECT_TRUE(CurrentNetnsIdentity() == ia);
  EXPECT_THAT(ia.ToString(), StartsWith("net:[" + std::to_string(ia.ino) + "]"));
  if (HasNsGetId()) {
    ASSERT_TRUE(ia.id.has_value());
    EXPECT_THAT(ia.ToString(), HasSubstr(" id=" + std::to_string(*ia.id)));
  }
}

TEST(IdentifyNetns, DifferentNetnsAreNotEqual) {
  FileDescriptor created = CreateNetns();
  const NetnsIdentity theirs = IdentifyNetns(created.get());
  const NetnsIdentity ours = CurrentNetnsIdentity();
  EXPECT_FALSE(theirs == ours) << theirs.ToString() << " vs " << ours.ToString();
  EXPECT_NE(theirs.ino, ours.ino);
  if (theirs.id && ours.id) {
    EXPECT_NE(*theirs.id, *ours.id);
  }
}

TEST(IdentifyNetns, ComparesIdsWhenBothHaveThem) {
  NetnsIdentity a{42, 1, 100}, b{42, 2, 200}, c{43, 1, 100};
  EXPECT_TRUE(a == b);   // same id: same netns whatever (dev, ino) say
  EXPECT_FALSE(a == c);  // different id: different netns even with the same (dev, ino)
  NetnsIdentity no_id_1{std::nullopt, 1, 100}, no_id_2{std::nullopt, 1, 100};
  NetnsIdentity no_id_3{std::nullopt, 1, 101};
  EXPECT_TRUE(no_id_1 == no_id_2);
  EXPECT_FALSE(no_id_1 == no_id_3);
}

TEST(IdentifySocketNetns, ASocketBelongsToTheNetnsItWasMadeIn) {
  FileDescriptor created = CreateNetns();
  FileDescriptor sock;
  RunInNetns(created.get(), [&] { sock.reset(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)); });
  ASSERT_TRUE(sock.valid());
  const NetnsIdentity of_socket = IdentifySocketNetns(sock.get());
  EXPECT_TRUE(of_socket == IdentifyNetns(created.get()))
      << of_socket.ToString() << " vs " << IdentifyNetns(created.get()).ToString();
  EXPECT_FALSE(of_socket == CurrentNetnsIdentity());

  FileDescriptor here(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  EXPECT_TRUE(IdentifySocketNetns(here.get()) == CurrentNetnsIdentity());
}

// The kernel-feature probes: each answers the same every time, and none moves the calling thread
// (several try their call in a helper thread or in throwaway netns of their own).
TEST(FeatureProbes, AnswerStablyAndLeaveTheCallerWhereItWas) {
  const ino_t ours = ThreadNetnsInode();
  const std::vector<bool (*)()> probes = {
      HasNetNamespaces,           HasNsGetId,          HasNetNsInitIno,
      HasSoNetnsCookie,           HasPidfdSetns,       HasNsfsFileHandles,
      HasNetnsImmutableAttribute, HasDeviceMoveExtack, HasCoreMemMirrorSysctls};
  std::vector<bool> first;
  for (auto* probe : probes) first.push_back(probe());
  EXPECT_EQ(ThreadNetnsInode(), ours);
  for (size_t i = 0; i < probes.size(); ++i) EXPECT_EQ(probes[i](), first[i]) << "probe #" << i;
  // NET_NS_INIT_INO is gated on the NS_GET_ID pull, which nothing else can tell apart.
  EXPECT_EQ(HasNetNsInitIno(), HasNsGetId());
  // A probe that says "present" means the call works here (the sandbox's own netns).
  if (HasNsGetId()) {
    EXPECT_TRUE(NetnsId(OpenCurrentNetns().get()).has_value());
  }
  if (HasSoNetnsCookie()) {
    FileDescriptor sock(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    EXPECT_TRUE(SocketNetnsCookie(sock.get()).has_value());
  }
}

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

// ---- NetnsHolderProcess ------------------------------------------------------------------------

TEST(NetnsHolderProcess, HoldsANetnsOfItsOwnUntilReleased) {
  const ino_t ours = ThreadNetnsInode();
  NetnsHolderProcess holder;
  const pid_t pid = holder.pid();
  ASSERT_GT(pid, 0);
  EXPECT_EQ(holder.NetnsPath(), "/proc/" + std::to_string(pid) + "/ns/net");
  EXPECT_NE(InodeOf(holder.NetnsPath()), ours);
  EXPECT_THAT(kill(pid, 0), SyscallSucceeds());

  holder.Release();
  EXPECT_EQ(holder.pid(), -1);
  EXPECT_THAT(kill(pid, 0), SyscallFailsWithErrno(ESRCH));
  EXPECT_THAT(waitpid(pid, nullptr, WNOHANG), SyscallFailsWithErrno(ECHILD));
  holder.Release();  // a second release is harmless
}

TEST(NetnsHolderProcess, JoinsAGivenNetns) {
  FileDescriptor target = CreateNetns();
  NetnsHolderProcess holder(target.get());
  EXPECT_EQ(InodeOf(holder.NetnsPath()), InodeOfFd(target.get()));
}

TEST(NetnsHolderProcess, DestructorReapsTheHolder) {
  pid_t pid;
  {
    NetnsHolderProcess holder;
    pid = holder.pid();
  }
  EXPECT_THAT(kill(pid, 0), SyscallFailsWithErrno(ESRCH));
}

TEST(NetnsHolderProcess, AFailedJoinThrowsWithTheHoldersErrno) {
  FileDescriptor not_a_netns(open("/dev/null", O_RDONLY | O_CLOEXEC));
  try {
    NetnsHolderProcess holder(not_a_netns.get());
    FAIL() << "a holder joined /dev/null";
  } catch (const SystemError& e) {
    EXPECT_EQ(e.err(), EINVAL);
    EXPECT_THAT(e.what(), HasSubstr("holder setns"));
  }
}

// ---- KernelConfig ------------------------------------------------------------------------------

TEST(KernelConfig, ValueAndEnabledOnAParsedConfig) {
  const KernelConfig config{"test", {{"CONFIG_Y", "y"}, {"CONFIG_M", "m"}, {"CONFIG_N", "42"}}};
  EXPECT_TRUE(config.known());
  EXPECT_EQ(config.Value("CONFIG_Y"), "y");
  EXPECT_EQ(config.Enabled("CONFIG_Y"), true);
  EXPECT_EQ(config.Value("CONFIG_M"), "m");
  EXPECT_EQ(config.Enabled("CONFIG_M"), true);
  EXPECT_EQ(config.Value("CONFIG_N"), "42");
  EXPECT_EQ(config.Enabled("CONFIG_N"), false);
  EXPECT_EQ(config.Value("CONFIG_ABSENT"), "n");
  EXPECT_EQ(config.Enabled("CONFIG_ABSENT"), false);
}

TEST(KernelConfig, AnUnknownConfigAnswersNothing) {
  const KernelConfig config{"unknown", {{"CONFIG_Y", "y"}}};
  EXPECT_FALSE(config.known());
  EXPECT_EQ(config.Value("CONFIG_Y"), std::nullopt);
  EXPECT_EQ(config.Enabled("CONFIG_Y"), std::nullopt);
}

constexpr const char* kConfigText =
    "#\n"
    "# Automatically generated file; DO NOT EDIT.\n"
    "#\n"
    "CONFIG_FIXTURE_Y=y\n"
    "CONFIG_FIXTURE_M=m\n"
    "# CONFIG_FIXTURE_NOT_SET is not set\n"
    "CONFIG_FIXTURE_STRING=\"a b=c\"\n"
    "CONFIG_FIXTURE_NUMBER=42\n"
    "not a config line=y\n";

const std::vector<std::string> kProbedSymbols = {"CONFIG_FIXTURE_Y",       "CONFIG_FIXTURE_M",
                                                 "CONFIG_FIXTURE_NOT_SET", "CONFIG_FIXTURE_STRING",
                                                 "CONFIG_FIXTURE_NUMBER",  "CONFIG_FIXTURE_ABSENT"};

std::string OptText(const std::optional<std::string>& v) { return v ? *v : "<nullopt>"; }
std::string OptText(const std::optional<bool>& v) {
  return v ? (*v ? "true" : "false") : "<nullopt>";
}

struct ConfigProbe {
  std::optional<std::string> kconfig_env;  // NETNS_CONFORM_KCONFIG, or unset
  bool hide_fallbacks = false;  // an empty /proc/config.gz and an empty /boot, in the child only
  std::optional<Requirements> needs;  // also judge these
  ChildOptions options;
};

// Hides /proc/config.gz (an empty file bound over it: an empty config is skipped) and /boot (a
// tmpfs) in a mount namespace of the child's own. Each step runs only when the one before it
// succeeded (CheckSyscall throws, which ends the child), so nothing is ever mounted outside it.
void HideKernelConfigFallbacks() {
  CheckSyscall(unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)");
  CheckSyscall(mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr), "make / private");
  CheckSyscall(mount("tmpfs", "/boot", "tmpfs", 0, "mode=0755"), "mount tmpfs /boot");
  FileDescriptor empty(static_cast<int>(CheckSyscall(
      open("/boot/empty", O_WRONLY | O_CREAT | O_CLOEXEC, 0644), "create /boot/empty")));
  if (access("/proc/config.gz", F_OK) == 0)
    CheckSyscall(mount("/boot/empty", "/proc/config.gz", nullptr, MS_BIND, nullptr),
                 "bind /boot/empty over /proc/config.gz");
}

// RunningKernelConfig() in a forked child (a fresh cache), as notes "source", "known",
// "value:SYM", "enabled:SYM" and, with needs, "unmet".
ChildResult ProbeConfigInChild(const ConfigProbe& probe) {
  return RunInChild(probe.options, [&](ChildChannel& ch) {
    if (probe.kconfig_env)
      setenv("NETNS_CONFORM_KCONFIG", probe.kconfig_env->c_str(), 1);
    else
      unsetenv("NETNS_CONFORM_KCONFIG");
    if (probe.hide_fallbacks) HideKernelConfigFallbacks();
    const KernelConfig& config = RunningKernelConfig();
    ch.Note("source", config.source);
    ch.Note("known", config.known() ? "true" : "false");
    for (const auto& symbol : kProbedSymbols) {
      ch.Note("value:" + symbol, OptText(config.Value(symbol)));
      ch.Note("enabled:" + symbol, OptText(config.Enabled(symbol)));
    }
    if (probe.needs) ch.Note("unmet", OptText(UnmetRequirement(*probe.needs)));
  });
}

void ExpectFixtureSymbols(ChildResult& child) {
  EXPECT_EQ(child.notes["known"], "true");
  EXPECT_EQ(child.notes["value:CONFIG_FIXTURE_Y"], "y");
  EXPECT_EQ(child.notes["enabled:CONFIG_FIXTURE_Y"], "true");
  EXPECT_EQ(child.notes["value:CONFIG_FIXTURE_M"], "m");
  EXPECT_EQ(child.notes["enabled:CONFIG_FIXTURE_M"], "true");
  EXPECT_EQ(child.notes["value:CONFIG_FIXTURE_NOT_SET"], "n");
  EXPECT_EQ(child.notes["enabled:CONFIG_FIXTURE_NOT_SET"], "false");
  EXPECT_EQ(child.notes["value:CONFIG_FIXTURE_STRING"], "\"a b=c\"");
  EXPECT_EQ(child.notes["enabled:CONFIG_FIXTURE_STRING"], "false");
  EXPECT_EQ(child.notes["value:CONFIG_FIXTURE_NUMBER"], "42");
  EXPECT_EQ(child.notes["value:CONFIG_FIXTURE_ABSENT"], "n");
  EXPECT_EQ(child.notes["enabled:CONFIG_FIXTURE_ABSENT"], "false");
}

std::string WritePlainConfig(const TempDir& dir) {
  const auto path = (dir.path() / "config").string();
  std::ofstream(path) << kConfigText;
  return path;
}

std::string WriteGzipConfig(const TempDir& dir) {
  const auto path = (dir.path() / "config.gz").string();
  gzFile file = gzopen(path.c_str(), "wb");
  if (!file) throw std::runtime_error("gzopen " + path);
  const std::string text = kConfigText;
  const int written = gzwrite(file, text.data(), static_cast<unsigned>(text.size()));
  gzclose(file);
  if (written != static_cast<int>(text.size())) throw std::runtime_error("gzwrite " + path);
  return path;
}

TEST(KernelConfig, ReadsAPlainFileNamedByTheEnvironment) {
  TempDir dir;
  const auto path = WritePlainConfig(dir);
  auto child = ProbeConfigInChild({.kconfig_env = path});
  ASSERT_TRUE(child.Ok()) << child.Describe();
  EXPECT_EQ(child.notes["source"], path);
  ExpectFixtureSymbols(child);
}

TEST(KernelConfig, ReadsAGzipFileNamedByTheEnvironment) {
  TempDir dir;
  const auto path = WriteGzipConfig(dir);
  {  // really compressed, so the test goes through zlib's inflate, not its plain pass-through
    std::ifstream in(path, std::ios::binary);
    unsigned char magic[2] = {};
    in.read(reinterpret_cast<char*>(magic), 2);
    ASSERT_EQ(magic[0], 0x1f);
    ASSERT_EQ(magic[1], 0x8b);
  }
  auto child = ProbeConfigInChild({.kconfig_env = path});
  ASSERT_TRUE(child.Ok()) << child.Describe();
  EXPECT_EQ(child.notes["source"], path);
  ExpectFixtureSymbols(child);
}

TEST(KernelConfig, UnknownWhenNoConfigCanBeRead) {
  TempDir dir;
  auto child = ProbeConfigInChild(
      {.kconfig_env = (dir.path() / "missing").string(), .hide_fallbacks = true});
  ASSERT_TRUE(child.Ok()) << child.Describe();
  EXPECT_EQ(child.notes["source"], "unknown");
  EXPECT_EQ(child.notes["known"], "false");
  EXPECT_EQ(child.notes["value:CONFIG_FIXTURE_Y"], "<nullopt>");
  EXPECT_EQ(child.notes["enabled:CONFIG_FIXTURE_Y"], "<nullopt>");
  EXPECT_EQ(child.notes["enabled:CONFIG_FIXTURE_ABSENT"], "<nullopt>");
}

TEST(KernelConfig, AMissingOverrideFallsBackToTheRunningKernels) {
  if (access("/proc/config.gz", R_OK) != 0) GTEST_SKIP() << "this kernel has no /proc/config.gz";
  TempDir dir;
  auto child = ProbeConfigInChild({.kconfig_env = (dir.path() / "missing").string()});
  ASSERT_TRUE(child.Ok()) << child.Describe();
  EXPECT_EQ(child.notes["source"], "/proc/config.gz");
  EXPECT_EQ(child.notes["known"], "true");
  EXPECT_EQ(child.notes["value:CONFIG_FIXTURE_Y"], "n");
}

// ---- UnmetRequirement --------------------------------------------------------------------------

TEST(UnmetRequirement, RootIsUnmetForNobody) {
  auto child = ProbeConfigInChild({.needs = Requirements{}, .options = {.uid = kNobodyUid}});
  ASSERT_TRUE(child.Ok()) << child.Describe();
  EXPECT_EQ(child.notes["unmet"], "needs root (euid 0)");
}

TEST(UnmetRequirement, NothingUnmetForRootWithoutKconfigs) {
  auto child = ProbeConfigInChild({.needs = Requirements{}});
  ASSERT_TRUE(child.Ok()) << child.Describe();
  EXPECT_EQ(child.notes["unmet"], "<nullopt>");
}

TEST(UnmetRequirement, NobodyMeetsANeedWithoutRoot) {
  auto child =
      ProbeConfigInChild({.needs = Requirements{.root = false}, .options = {.uid = kNobodyUid}});
  ASSERT_TRUE(child.Ok()) << child.Describe();
  EXPECT_EQ(child.notes["unmet"], "<nullopt>");
}

TEST(UnmetRequirement, AnAbsentKconfigSymbolIsUnmetWithItsSource) {
  TempDir dir;
  const auto path = WritePlainConfig(dir);
  auto child = ProbeConfigInChild(
      {.kconfig_env = path,
       .needs = Requirements{.kconfigs = {"CONFIG_FIXTURE_Y", "CONFIG_FIXTURE_ABSENT"}}});
  ASSERT_TRUE(child.Ok()) << child.Describe();
  EXPECT_EQ(child.notes["unmet"],
            "kernel config lacks CONFIG_FIXTURE_ABSENT (read from " + path + ")");
}

TEST(UnmetRequirement, ANotSetKconfigSymbolIsUnmet) {
  TempDir dir;
  const auto path = WriteGzipConfig(dir);
  auto child = ProbeConfigInChild(
      {.kconfig_env = path, .needs = Requirements{.kconfigs = {"CONFIG_FIXTURE_NOT_SET"}}});
  ASSERT_TRUE(child.Ok()) << child.Describe();
  EXPECT_EQ(child.notes["unmet"],
            "kernel config lacks CONFIG_FIXTURE_NOT_SET (read from " + path + ")");
}

TEST(UnmetRequirement, PresentKconfigSymbolsAreMet) {
  TempDir dir;
  const auto path = WritePlainConfig(dir);
  auto child = ProbeConfigInChild(
      {.kconfig_env = path,
       .needs = Requirements{.kconfigs = {"CONFIG_FIXTURE_Y", "CONFIG_FIXTURE_M"}}});
  ASSERT_TRUE(child.Ok()) << child.Describe();
  EXPECT_EQ(child.notes["unmet"], "<nullopt>");
}

TEST(UnmetRequirement, AnUnknownConfigDoesNotSkip) {
  TempDir dir;
  auto child = ProbeConfigInChild({.kconfig_env = (dir.path() / "missing").string(),
                                   .hide_fallbacks = true,
                                   .needs = Requirements{.kconfigs = {"CONFIG_FIXTURE_ABSENT"}}});
  ASSERT_TRUE(child.Ok()) << child.Describe();
  EXPECT_EQ(child.notes["source"], "unknown");
  EXPECT_EQ(child.notes["unmet"], "<nullopt>");
}

}  // namespace
}  // namespace conform
