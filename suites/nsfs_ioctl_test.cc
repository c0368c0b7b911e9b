// The nsfs ioctls on a netns fd (SEMANTICS.md B4.4): NS_GET_USERNS, NS_GET_PARENT,
// NS_GET_NSTYPE, NS_GET_OWNER_UID, NS_GET_ID and an unknown request.
//
// Features that arrived in a given release are probed by trying them; without them the cases SKIP
// and say which is missing. Shared helpers: suites/nsfs_helpers.h.

#include <fcntl.h>
#include <grp.h>
#include <linux/nsfs.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "fixtures/case_registry.h"
#include "fixtures/child.h"
#include "fixtures/netns.h"
#include "fixtures/probe.h"
#include "fixtures/syscall_matchers.h"
#include "suites/nsfs_helpers.h"

namespace conform {
namespace {

using namespace nsfs;  // what every nsfs suite shares

// =====================================================================================
// B4.4 nsfs ioctls on a netns fd
// =====================================================================================

NETNS_TEST(NsIoctl, GetUsernsReturnsOwnerWithCloexec, "sem.B4.4.ns-get-userns") {
  FileDescriptor net = CreateNetns();
  FileDescriptor owner(ioctl(net.get(), NS_GET_USERNS));
  ASSERT_TRUE(owner.valid()) << "NS_GET_USERNS: " << ErrnoName(errno);
  EXPECT_TRUE(fcntl(owner.get(), F_GETFD) & FD_CLOEXEC);
  EXPECT_THAT(ioctl(owner.get(), NS_GET_NSTYPE), SyscallSucceedsWithValue(CLONE_NEWUSER));
  EXPECT_EQ(Fstat(owner.get()).st_ino, Stat("/proc/self/ns/user").st_ino)
      << "a netns made by this process is owned by its user namespace";

  // A netns made inside a new user namespace is owned by that one.
  auto child = RunInChild({.uid = kNobodyUid, .new_user_ns = true}, [](ChildChannel& ch) {
    ch.Record("unshare", unshare(CLONE_NEWNET));
    FileDescriptor own_net(open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
    FileDescriptor got(ioctl(own_net.get(), NS_GET_USERNS));
    ch.Record("ns_get_userns", got.get());
    struct stat a {
    }, b{};
    fstat(got.get(), &a);
    stat("/proc/self/ns/user", &b);
    ch.Note("same", a.st_ino == b.st_ino ? "yes" : "no");
  });
  ASSERT_TRUE(child.Ok()) << child.Describe();
  ASSERT_THAT(child.Call("unshare"), SyscallSucceeds());
  EXPECT_THAT(child.Call("ns_get_userns"), SyscallSucceeds());
  EXPECT_EQ(child.notes["same"], "yes");
}

NETNS_TEST(NsIoctl, GetUsernsOfOwnerOutOfScopeIsEperm, "sem.B4.4.ns-get-userns") {
  FileDescriptor root_owned = CreateNetns();
  auto child = RunInChild({.uid = kNobodyUid, .new_user_ns = true}, [&](ChildChannel& ch) {
    ch.Record("outer", ioctl(root_owned.get(), NS_GET_USERNS));
    ch.Record("unshare", unshare(CLONE_NEWNET));
    FileDescriptor own_net(open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
    ch.Record("own", ioctl(own_net.get(), NS_GET_USERNS));
  });
  ASSERT_TRUE(child.Ok()) << child.Describe();
  EXPECT_THAT(child.Call("outer"), SyscallFailsWithErrno(EPERM))
      << "the owner (the initial user namespace) is an ancestor of the caller's";
  ASSERT_THAT(child.Call("unshare"), SyscallSucceeds());
  EXPECT_THAT(child.Call("own"), SyscallSucceeds()) << "control";
}

NETNS_TEST(NsIoctl, GetParentIsEinval, "sem.B4.4.ns-get-parent-einval") {
  FileDescriptor net = CreateNetns();
  EXPECT_THAT(ioctl(net.get(), NS_GET_PARENT), SyscallFailsWithErrno(EINVAL));
  // Control: the fd answers other nsfs ioctls...
  EXPECT_THAT(ioctl(net.get(), NS_GET_NSTYPE), SyscallSucceedsWithValue(CLONE_NEWNET));
  // ...and on a namespace type that has parents the same ioctl is not EINVAL (its own user
  // namespace's parent is out of scope: EPERM).
  FileDescriptor user = OpenPath("/proc/self/ns/user");
  EXPECT_THAT(ioctl(user.get(), NS_GET_PARENT), SyscallFailsWithErrno(EPERM));
}

NETNS_TEST(NsIoctl, GetNstypeIsNewnet, "sem.B4.4.ns-get-nstype") {
  FileDescriptor net = CreateNetns();
  EXPECT_THAT(ioctl(net.get(), NS_GET_NSTYPE), SyscallSucceedsWithValue(0x40000000));
  EXPECT_EQ(CLONE_NEWNET, 0x40000000);
  FileDescriptor current = OpenCurrentNetns();
  EXPECT_THAT(ioctl(current.get(), NS_GET_NSTYPE), SyscallSucceedsWithValue(CLONE_NEWNET));
  // Control: another type answers with its own flag.
  FileDescriptor uts = OpenPath("/proc/self/ns/uts");
  EXPECT_THAT(ioctl(uts.get(), NS_GET_NSTYPE), SyscallSucceedsWithValue(CLONE_NEWUTS));
}

NETNS_TEST(NsIoctl, GetOwnerUidIsEinval, "sem.B4.4.ns-get-owner-uid-einval") {
  FileDescriptor net = CreateNetns();
  uid_t uid = 12345;
  EXPECT_THAT(ioctl(net.get(), NS_GET_OWNER_UID, &uid), SyscallFailsWithErrno(EINVAL));
  // Control: on a user-namespace fd it reports the creator's uid (as seen from here).
  NsHolder holder(CLONE_NEWUSER, "", kNobodyUid);
  FileDescriptor user = OpenPath("/proc/" + std::to_string(holder.pid()) + "/ns/user");
  uid_t owner = 0;
  ASSERT_THAT(ioctl(user.get(), NS_GET_OWNER_UID, &owner), SyscallSucceeds());
  EXPECT_EQ(owner, kNobodyUid);
  // And the holder's netns fd, owned by that user namespace, still says EINVAL.
  FileDescriptor holder_net = OpenPath("/proc/" + std::to_string(holder.pid()) + "/ns/net");
  EXPECT_THAT(ioctl(holder_net.get(), NS_GET_OWNER_UID, &uid), SyscallFailsWithErrno(EINVAL));
}

NETNS_TEST(NsIoctl, GetIdEqualsCookieAndIsNeverReused, "sem.B4.4.ns-get-id",
           .kconfigs = {"CONFIG_VETH"}) {
  // Gate: NS_GET_ID, "nsfs: add missing id retrieval support", pull namespace-6.18-rc1 (v6.18).
  if (!HasNsGetId()) GTEST_SKIP() << "kernel lacks the NS_GET_ID ioctl (ENOTTY when probed)";
  FileDescriptor observer = CreateNetns();
  std::set<uint64_t> seen;
  // The id of `ns`, checked against its SO_NETNS_COOKIE and against every id seen before.
  auto check_id = [&](int ns) {
    uint64_t id = 0;
    ASSERT_THAT(ioctl(ns, NS_GET_ID, &id), SyscallSucceeds());
    EXPECT_TRUE(seen.insert(id).second) << "id " << id << " was given to a dead netns before";
    if (HasSoNetnsCookie()) {  // e8b9eab99232 (v5.14), so always there when NS_GET_ID is
      FileDescriptor sock;
      RunInNetns(ns, [&] { sock.reset(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)); });
      ASSERT_TRUE(sock.valid());
      EXPECT_EQ(SocketNetnsCookie(sock.get()), id) << "SO_NETNS_COOKIE of a socket made in it";
    }
  };
  // Five die together, so that one teardown (cleanup_net takes a whole batch) is waited for,
  // not five; then five are made after their deaths and get ids none of them had.
  {
    std::vector<FileDescriptor> doomed;
    std::deque<DeathWatch> deaths;
    for (int i = 0; i < 5; ++i) {
      doomed.push_back(CreateNetns());
      ASSERT_NO_FATAL_FAILURE(check_id(doomed.back().get()));
      deaths.emplace_back(observer.get(), doomed.back().get());
    }
    doomed.clear();
    for (DeathWatch& death : deaths) ASSERT_TRUE(death.Wait());
  }
  for (int i = 0; i < 5; ++i) ASSERT_NO_FATAL_FAILURE(check_id(CreateNetns().get()));
  uint64_t observer_id = 0;
  ASSERT_THAT(ioctl(observer.get(), NS_GET_ID, &observer_id), SyscallSucceeds());
  EXPECT_EQ(seen.count(observer_id), 0u) << "a live netns shares its id with a dead one";
}

NETNS_TEST(NsIoctl, UnknownIoctlIsEnotty, "sem.B4.4.unknown-ioctl-enotty") {
  FileDescriptor net = CreateNetns();
  EXPECT_THAT(ioctl(net.get(), _IO(NSIO, 0x7e)), SyscallFailsWithErrno(ENOTTY))
      << "an unassigned nsfs number";
  EXPECT_THAT(ioctl(net.get(), _IO('T', 0x7e)), SyscallFailsWithErrno(ENOTTY))
      << "another subsystem's magic";
  EXPECT_THAT(ioctl(net.get(), NS_GET_NSTYPE), SyscallSucceedsWithValue(CLONE_NEWNET)) << "control";
}

}  // namespace
}  // namespace conform
