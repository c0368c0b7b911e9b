// RTM_NEWNSID (SEMANTICS.md B7.1): the errors of an assignment (no nsid or peer, a second nsid
// or a taken one, no CAP_NET_ADMIN) and how nsids are allocated (lowest free, a netns naming
// itself).
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
using ::testing::ElementsAre;
using ::testing::IsEmpty;

// =====================================================================================
// B7.1 RTM_NEWNSID
// =====================================================================================

constexpr const char* kNewidErrors = "sem.B7.1.newid-errors";

NETNS_TEST(Nsid, NewidWithoutNsidOrPeerIsEinval, kNewidErrors) {
  FileDescriptor observer = CreateNetns(), a = CreateNetns(), b = CreateNetns();
  NetnsHolderProcess in_b(b.get());
  RouteClient client(observer.get());

  NsidOutcome no_nsid = NsidRequest(client, RTM_NEWNSID, {{NETNSA_FD, Fd(a)}});
  EXPECT_THAT(AsCall(no_nsid), SyscallFailsWithErrno(EINVAL));
  EXPECT_EQ(no_nsid.extack, "nsid is missing");
  NsidOutcome no_peer = NsidRequest(client, RTM_NEWNSID, {{NETNSA_NSID, 3}});
  EXPECT_THAT(AsCall(no_peer), SyscallFailsWithErrno(EINVAL));
  EXPECT_EQ(no_peer.extack, "Peer netns reference is missing");
  EXPECT_THAT(client.DumpNsids(), IsEmpty()) << "a refused request assigned something";

  // Control: both given. With PID and FD together, the PID names the peer.
  EXPECT_THAT(AsCall(NsidRequest(client, RTM_NEWNSID, {{NETNSA_FD, Fd(a)}, {NETNSA_NSID, 3}})),
              SyscallSucceeds());
  EXPECT_EQ(client.GetNsid(a.get()), 3);
  EXPECT_THAT(AsCall(NsidRequest(client, RTM_NEWNSID,
                                 {{NETNSA_PID, in_b.pid()}, {NETNSA_FD, Fd(a)}, {NETNSA_NSID, 4}})),
              SyscallSucceeds());
  EXPECT_EQ(client.GetNsid(b.get()), 4) << "NETNSA_PID must win over NETNSA_FD";
  EXPECT_EQ(client.GetNsid(a.get()), 3);
}

NETNS_TEST(Nsid, SecondNsidOrTakenNsidIsEexist, kNewidErrors) {
  FileDescriptor observer = CreateNetns(), a = CreateNetns(), b = CreateNetns();
  RouteClient client(observer.get());
  client.SetNsid(a.get(), 1);

  NsidOutcome again = NsidRequest(client, RTM_NEWNSID, {{NETNSA_FD, Fd(a)}, {NETNSA_NSID, 2}});
  EXPECT_THAT(AsCall(again), SyscallFailsWithErrno(EEXIST));
  EXPECT_EQ(again.extack, "Peer netns already has a nsid assigned");
  EXPECT_EQ(client.GetNsid(a.get()), 1) << "an nsid cannot be changed once assigned";
  NsidOutcome auto_again =
      NsidRequest(client, RTM_NEWNSID, {{NETNSA_FD, Fd(a)}, {NETNSA_NSID, -1}});
  EXPECT_THAT(AsCall(auto_again), SyscallFailsWithErrno(EEXIST)) << "not even to an allocated one";

  NsidOutcome taken = NsidRequest(client, RTM_NEWNSID, {{NETNSA_FD, Fd(b)}, {NETNSA_NSID, 1}});
  EXPECT_THAT(AsCall(taken), SyscallFailsWithErrno(EEXIST));
  EXPECT_EQ(taken.extack, "The specified nsid is already used");
  EXPECT_EQ(client.GetNsid(b.get()), -1);
  // Control: a free nsid for b.
  EXPECT_THAT(AsCall(NsidRequest(client, RTM_NEWNSID, {{NETNSA_FD, Fd(b)}, {NETNSA_NSID, 2}})),
              SyscallSucceeds());
  EXPECT_THAT(client.DumpNsids(), ElementsAre(1, 2));
}

NETNS_TEST(Nsid, NewidWithoutCapNetAdminIsEperm, kNewidErrors) {
  FileDescriptor observer = CreateNetns(), a = CreateNetns();
  RouteClient client(observer.get());  // opened by root; used by a child that is not
  auto child = RunInChild({.uid = kNobodyUid}, [&](ChildChannel& ch) {
    RecordOutcome(ch, "newid",
                  NsidRequest(client, RTM_NEWNSID, {{NETNSA_FD, Fd(a)}, {NETNSA_NSID, 5}}));
  });
  ASSERT_TRUE(child.Ok()) << child.Describe();
  EXPECT_THAT(child.Call("newid"), SyscallFailsWithErrno(EPERM));
  EXPECT_EQ(client.GetNsid(a.get()), -1);
  EXPECT_THAT(AsCall(NsidRequest(client, RTM_NEWNSID, {{NETNSA_FD, Fd(a)}, {NETNSA_NSID, 5}})),
              SyscallSucceeds())
      << "control: the same request with CAP_NET_ADMIN";
}

constexpr const char* kNewidAllocation = "sem.B7.1.newid-allocation";

NETNS_TEST(Nsid, NegativeNsidTakesLowestFree, kNewidAllocation) {
  FileDescriptor observer = CreateNetns();
  FileDescriptor a = CreateNetns(), b = CreateNetns(), c = CreateNetns(), d = CreateNetns();
  RouteClient client(observer.get());
  client.SetNsid(a.get(), 0);
  client.SetNsid(b.get(), 2);
  client.SetNsid(c.get(), -1);
  EXPECT_EQ(client.GetNsid(c.get()), 1) << "the hole between 0 and 2";
  client.SetNsid(d.get(), -1);
  EXPECT_EQ(client.GetNsid(d.get()), 3);
  EXPECT_THAT(client.DumpNsids(), ElementsAre(0, 1, 2, 3));
}

NETNS_TEST(Nsid, NetnsMayNameItself, kNewidAllocation) {
  FileDescriptor observer = CreateNetns();
  RouteClient client(observer.get());
  EXPECT_EQ(client.GetNsid(observer.get()), -1);
  EXPECT_THAT(
      AsCall(NsidRequest(client, RTM_NEWNSID, {{NETNSA_FD, Fd(observer)}, {NETNSA_NSID, 5}})),
      SyscallSucceeds());
  EXPECT_EQ(client.GetNsid(observer.get()), 5);
  EXPECT_THAT(client.DumpNsids(), ElementsAre(5));
  auto by_nsid = GetNsidBy(client, {{NETNSA_NSID, 5}});
  EXPECT_THAT(AsCall(by_nsid), SyscallSucceeds());
}

}  // namespace
}  // namespace conform
