// Unit tests of the fixtures' network namespaces: CreateNetns, RunInNetns, ScopedNetns, netns
// identity, the feature probes and NetnsHolderProcess.
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

}  // namespace
}  // namespace conform
