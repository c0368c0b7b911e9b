// RTM_GETNSID (SEMANTICS.md B7.2): an nsid looked up by fd, pid or nsid, its errors and an
// unprivileged get; NETNSA_TARGET_NSID reports the target's view and ours.
//
// Requests are built by hand where the fixture's client has no call for them
// (suites/nsid_helpers.h).

#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/net_namespace.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "fixtures/case_registry.h"
#include "fixtures/child.h"
#include "fixtures/netlink.h"
#include "fixtures/netns.h"
#include "fixtures/stale_handles.h"
#include "fixtures/syscall_matchers.h"
#include "suites/nsid_helpers.h"

namespace conform {
namespace {

using namespace nsid;  // what every nsid suite shares
using ::testing::IsEmpty;

// =====================================================================================
// B7.2 RTM_GETNSID
// =====================================================================================

constexpr const char* kGetid = "sem.B7.2.getid";

NETNS_TEST(Nsid, GetByFdPidOrNsid, kGetid) {
  FileDescriptor observer = CreateNetns(), a = CreateNetns();
  NetnsHolderProcess in_a(a.get());
  RouteClient client(observer.get());
  auto unassigned = GetNsidBy(client, {{NETNSA_FD, Fd(a)}});
  ASSERT_THAT(AsCall(unassigned), SyscallSucceeds());
  EXPECT_EQ(ReplyAttr(unassigned, NETNSA_NSID), NETNSA_NSID_NOT_ASSIGNED);
  EXPECT_THAT(client.DumpNsids(), IsEmpty()) << "a GET must not allocate";

  client.SetNsid(a.get(), 9);
  EXPECT_EQ(ReplyAttr(GetNsidBy(client, {{NETNSA_FD, Fd(a)}}), NETNSA_NSID), 9);
  EXPECT_EQ(ReplyAttr(GetNsidBy(client, {{NETNSA_PID, in_a.pid()}}), NETNSA_NSID), 9);
  auto by_nsid = GetNsidBy(client, {{NETNSA_NSID, 9}});
  ASSERT_THAT(AsCall(by_nsid), SyscallSucceeds());
  EXPECT_EQ(ReplyAttr(by_nsid, NETNSA_NSID), 9);
  EXPECT_THAT(AsCall(GetNsidBy(client, {{NETNSA_NSID, 10}})), SyscallFailsWithErrno(ENOENT));
}

NETNS_TEST(Nsid, GetErrorsAndUnprivilegedGet, kGetid) {
  FileDescriptor observer = CreateNetns(), a = CreateNetns();
  RouteClient client(observer.get());
  client.SetNsid(a.get(), 9);
  FileDescriptor regular(open("/proc/self/stat", O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(regular.valid());
  EXPECT_THAT(AsCall(GetNsidBy(client, {{NETNSA_PID, ReapedPid()}})), SyscallFailsWithErrno(ESRCH));
  EXPECT_THAT(AsCall(GetNsidBy(client, {{NETNSA_FD, Fd(regular)}})), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(AsCall(GetNsidBy(client, {{NETNSA_FD, ClosedFd()}})), SyscallFailsWithErrno(EBADF));
  EXPECT_THAT(AsCall(GetNsidBy(client, {})), SyscallFailsWithErrno(EINVAL)) << "no peer at all";

  // A GET needs no privilege.
  auto child = RunInChild({.uid = kNobodyUid}, [&](ChildChannel& ch) {
    RecordOutcome(ch, "get", GetNsidBy(client, {{NETNSA_FD, Fd(a)}}));
  });
  ASSERT_TRUE(child.Ok()) << child.Describe();
  EXPECT_THAT(child.Call("get"), SyscallSucceedsWithValue(9));
}

constexpr const char* kTargetNsid = "sem.B7.2.target-nsid";

NETNS_TEST(Nsid, TargetNsidReportsTargetsViewAndOurs, kTargetNsid) {
  FileDescriptor observer = CreateNetns(), a = CreateNetns(), target = CreateNetns(),
                 blind = CreateNetns();
  RouteClient client(observer.get());
  client.SetNsid(a.get(), 10);
  client.SetNsid(target.get(), 20);
  client.SetNsid(blind.get(), 30);
  RouteClient(target.get()).SetNsid(a.get(), 100);

  auto seen = GetNsidBy(client, {{NETNSA_FD, Fd(a)}, {NETNSA_TARGET_NSID, 20}});
  ASSERT_THAT(AsCall(seen), SyscallSucceeds());
  EXPECT_EQ(ReplyAttr(seen, NETNSA_NSID), 100) << "A as seen from the target";
  EXPECT_EQ(ReplyAttr(seen, NETNSA_CURRENT_NSID), 10) << "A as seen by the caller";
  // A target that has no nsid for A says so; the caller's view is still given.
  auto unseen = GetNsidBy(client, {{NETNSA_FD, Fd(a)}, {NETNSA_TARGET_NSID, 30}});
  ASSERT_THAT(AsCall(unseen), SyscallSucceeds());
  EXPECT_EQ(ReplyAttr(unseen, NETNSA_NSID), NETNSA_NSID_NOT_ASSIGNED);
  EXPECT_EQ(ReplyAttr(unseen, NETNSA_CURRENT_NSID), 10);
  // Control: without a target, no CURRENT_NSID.
  auto plain = GetNsidBy(client, {{NETNSA_FD, Fd(a)}});
  EXPECT_EQ(ReplyAttr(plain, NETNSA_NSID), 10);
  EXPECT_FALSE(ReplyAttr(plain, NETNSA_CURRENT_NSID).has_value());
}

NETNS_TEST(Nsid, TargetNsidUnknownEinvalUnprivilegedEacces, kTargetNsid) {
  FileDescriptor observer = CreateNetns(), a = CreateNetns(), target = CreateNetns();
  RouteClient client(observer.get());
  client.SetNsid(a.get(), 10);
  client.SetNsid(target.get(), 20);
  auto unknown = GetNsidBy(client, {{NETNSA_FD, Fd(a)}, {NETNSA_TARGET_NSID, 99}});
  EXPECT_THAT(AsCall(unknown), SyscallFailsWithErrno(EINVAL));
  EXPECT_EQ(unknown.extack, "Target netns reference is invalid");

  auto child = RunInChild({.uid = kNobodyUid}, [&](ChildChannel& ch) {
    RecordOutcome(ch, "with-target",
                  GetNsidBy(client, {{NETNSA_FD, Fd(a)}, {NETNSA_TARGET_NSID, 20}}));
    RecordOutcome(ch, "without-target", GetNsidBy(client, {{NETNSA_FD, Fd(a)}}));
  });
  ASSERT_TRUE(child.Ok()) << child.Describe();
  EXPECT_THAT(child.Call("with-target"), SyscallFailsWithErrno(EACCES))
      << "no CAP_NET_ADMIN over the target netns";
  EXPECT_THAT(child.Call("without-target"), SyscallSucceedsWithValue(10)) << "control";
}

}  // namespace
}  // namespace conform
