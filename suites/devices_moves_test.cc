// Moving a network device between network namespaces: "A physical network device can live in
// exactly one network namespace" (network_namespaces(7), clone(2)), the devices that cannot move
// at all (SEMANTICS.md B1.3) and how a move fails for want of privilege or a usable target (B1.4;
// the name clashes a move meets are in devices_renames_test.cc).
//
// Everything here lives in namespaces the case creates, with addresses from the documentation
// ranges (192.0.2.0/24, 198.51.100.0/24) only inside them. The cases that need a device the kernel
// refunds take it from fixtures/refund_device.h (a NIC lent with --spare-nic, or the VM's) and SKIP
// without one; the host's own devices are never touched. Shared helpers: suites/devices_helpers.h.

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "fixtures/case_registry.h"
#include "fixtures/child.h"
#include "fixtures/netlink.h"
#include "fixtures/netns.h"
#include "fixtures/probe.h"
#include "fixtures/stale_handles.h"
#include "fixtures/syscall_matchers.h"
#include "suites/devices_helpers.h"

namespace conform {
namespace {

using namespace devices;  // what every device suite shares
using std::chrono::milliseconds;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

// Where a device with this hardware address is: how many links carry it in each netns.
std::vector<int> CountByMac(const std::vector<int>& netns_fds, const std::string& mac) {
  std::vector<int> counts;
  for (int fd : netns_fds) {
    RouteClient client(fd);
    int n = 0;
    for (const auto& link : DumpDetails(client)) n += link.mac == mac;
    counts.push_back(n);
  }
  return counts;
}
// =====================================================================================
// "A physical network device can live in exactly one network namespace."
// =====================================================================================

NETNS_TEST(PhysicalDevice, InExactlyOneNetnsAcrossMoves, "netns7.physdev.exactly-one-netns",
           .refundable_device = true) {
  LentDevice lent;
  FileDescriptor x = CreateNetns(), y = CreateNetns();
  const std::vector<int> places = {lent.init_netns(), x.get(), y.get()};
  // Identified by its hardware address, which moves with it whatever its name or ifindex.
  ASSERT_FALSE(lent.mac().empty());
  ASSERT_EQ(CountByMac(places, lent.mac()), (std::vector<int>{1, 0, 0}));

  lent.init().MoveToNetns(lent.ifindex(), x.get());
  EXPECT_EQ(CountByMac(places, lent.mac()), (std::vector<int>{0, 1, 0})) << "after init -> X";

  const int in_x = IfindexOf(x.get(), lent.name());
  RouteClient(x.get()).MoveToNetns(in_x, y.get());
  EXPECT_EQ(CountByMac(places, lent.mac()), (std::vector<int>{0, 0, 1})) << "after X -> Y";

  x.reset();
  y.reset();
  ASSERT_TRUE(lent.WaitBack().has_value()) << lent.name() << " did not come back";
  EXPECT_EQ(CountByMac({lent.init_netns()}, lent.mac()), (std::vector<int>{1}));
}

NETNS_TEST(PhysicalDevice, MoveLeavesTheSourceNetns, "clone2.physdev.exactly-one-netns",
           .refundable_device = true) {
  LentDevice lent;
  FileDescriptor x = CreateNetns(), y = CreateNetns();
  {
    EventWatcher x_watch(x.get(), {RTNLGRP_LINK});  // its socket holds X: scoped
    lent.init().MoveToNetns(lent.ifindex(), x.get());
    // The source announces a departure, not a deletion: RTM_DELLINK carrying the new netns's id.
    auto left = lent.watcher().WaitLink(
        [&](const LinkEvent& e) { return e.type == RTM_DELLINK && e.link.name == lent.name(); },
        kTeardownDeadline);
    ASSERT_TRUE(left.has_value()) << "no RTM_DELLINK in the initial netns";
    EXPECT_TRUE(left->link.new_netnsid.has_value()) << left->link;
    EXPECT_TRUE(x_watch.WaitLinkAppeared(lent.name(), kTeardownDeadline));
  }

  // Gone from the source: a second move from there finds nothing to move.
  EXPECT_THAT(AsCall(TryMove(lent.init(), lent.ifindex(), {.fd = y.get()})),
              SyscallFailsWithErrno(ENODEV));
  EXPECT_FALSE(lent.init().GetLink(lent.name()).has_value());
  EXPECT_TRUE(RouteClient(x.get()).GetLink(lent.name()).has_value());
  EXPECT_FALSE(RouteClient(y.get()).GetLink(lent.name()).has_value());

  x.reset();  // frees X: the device returns to the initial netns, never to Y
  ASSERT_TRUE(lent.WaitBack().has_value());
  EXPECT_FALSE(RouteClient(y.get()).GetLink(lent.name()).has_value());
}

// =====================================================================================
// SEMANTICS.md B1.3: netns-immutable devices
// =====================================================================================

constexpr const char* kImmutableClause = "sem.B1.3.immutable-device-move-einval";
constexpr const char* kImmutableText = "The interface netns is immutable";

NETNS_TEST(DeviceMove, LoopbackCannotChangeNetns, kImmutableClause) {
  FileDescriptor a = CreateNetns(), b = CreateNetns();
  NetnsHolderProcess in_b(b.get());
  RouteClient in_a(a.get());
  in_a.SetNsid(b.get(), 5);
  const int lo = in_a.GetLink("lo").value().ifindex;
  const std::vector<std::pair<const char*, MoveSpec>> selectors = {
      {"IFLA_NET_NS_FD", {.fd = b.get()}},
      {"IFLA_NET_NS_PID", {.pid = in_b.pid()}},
      {"IFLA_TARGET_NETNSID", {.target_nsid = 5}}};
  for (const auto& [what, spec] : selectors) {
    NlOutcome outcome = TryMove(in_a, lo, spec);
    EXPECT_THAT(AsCall(outcome), SyscallFailsWithErrno(EINVAL)) << what;
    ExpectMoveExtack(outcome, kImmutableText);
  }
  EXPECT_EQ(in_a.GetLink("lo").value().ifindex, lo) << "lo left its netns";
  EXPECT_THAT(LinkNames(b.get()), ElementsAre("lo"));
}

NETNS_TEST(DeviceMove, BridgeCannotChangeNetnsButVethCan, kImmutableClause,
           .kconfigs = {"CONFIG_BRIDGE", "CONFIG_VETH"}) {
  FileDescriptor a = CreateNetns(), b = CreateNetns();
  RouteClient in_a(a.get());
  CreateSimpleLink(in_a, "bridge", "br0");
  in_a.CreateVeth("va", "vb");
  const int br = in_a.GetLink("br0").value().ifindex;
  NlOutcome outcome = TryMove(in_a, br, {.fd = b.get()});
  EXPECT_THAT(AsCall(outcome), SyscallFailsWithErrno(EINVAL));
  ExpectMoveExtack(outcome, kImmutableText);
  EXPECT_TRUE(in_a.GetLink("br0").has_value());
  // Control: an ordinary device takes the same path.
  EXPECT_THAT(AsCall(TryMove(in_a, in_a.GetLink("va").value().ifindex, {.fd = b.get()})),
              SyscallSucceeds());
  EXPECT_THAT(LinkNames(b.get()), UnorderedElementsAre("lo", "va"));
}

NETNS_TEST(DeviceMove, NetnsImmutableAttributeWhereReported, "sem.B1.3.netns-immutable-attribute",
           .kconfigs = {"CONFIG_BRIDGE", "CONFIG_VETH"}) {
  FileDescriptor a = CreateNetns();
  RouteClient in_a(a.get());
  // Gate: 4754affe0b57 "net: advertise netns_immutable property via netlink" (v6.15).
  if (!HasNetnsImmutableAttribute())
    GTEST_SKIP() << "the kernel does not report IFLA_NETNS_IMMUTABLE (attribute 67; probed on lo)";
  auto lo = in_a.GetLink("lo");
  ASSERT_TRUE(lo.has_value());
  CreateSimpleLink(in_a, "bridge", "br0");
  in_a.CreateVeth("va", "vb");
  EXPECT_EQ(lo->netns_immutable, true) << *lo;
  EXPECT_EQ(in_a.GetLink("br0")->netns_immutable, true);
  EXPECT_EQ(in_a.GetLink("va")->netns_immutable, false);
  if (TryNetlink([&] { CreateSimpleLink(in_a, "ifb", "ifb9"); }).err == 0) {
    EXPECT_EQ(in_a.GetLink("ifb9")->netns_immutable, false);
  }
  // The attribute is read-only: NLA_REJECT on input.
  NetlinkRequest req(RTM_NEWLINK, 0);
  req.PutHeader<ifinfomsg>()->ifi_index = in_a.GetLink("va").value().ifindex;
  mnl_attr_put_u8(req.nlh(), kIflaNetnsImmutable, 1);
  EXPECT_THAT(AsCall(TryNetlink([&] { in_a.Request(req, "set IFLA_NETNS_IMMUTABLE"); })),
              SyscallFailsWithErrno(EINVAL));
  EXPECT_EQ(in_a.GetLink("va")->netns_immutable, false);
}

// =====================================================================================
// SEMANTICS.md B1.4: how a move fails
// =====================================================================================

NETNS_TEST(DeviceMove, IntoNetnsOwnedByAnotherUserNamespaceIsEperm,
           "sem.B1.4.move-eperm-without-cap-in-target", .kconfigs = {"CONFIG_VETH"}) {
  FileDescriptor root_owned = CreateNetns();
  auto child = RunInChild({.uid = kNobodyUid, .new_user_ns = true}, [&](ChildChannel& ch) {
    ch.Record("unshare", unshare(CLONE_NEWNET));
    RouteClient own;
    own.CreateVeth("va", "vb");
    const int va = own.GetLink("va").value().ifindex;
    const int vb = own.GetLink("vb").value().ifindex;
    FileDescriptor own_second = CreateNetns();
    RecordOutcome(ch, "move-to-root-owned", TryMove(own, va, {.fd = root_owned.get()}));
    RecordOutcome(ch, "move-to-own", TryMove(own, vb, {.fd = own_second.get()}));
  });
  ASSERT_TRUE(child.Ok()) << child.Describe();
  ASSERT_THAT(child.Call("unshare"), SyscallSucceeds());
  EXPECT_THAT(child.Call("move-to-root-owned"), SyscallFailsWithErrno(EPERM));
  EXPECT_THAT(child.Call("move-to-own"), SyscallSucceeds())
      << "control: a netns owned by the caller's user namespace accepts the device";
  EXPECT_THAT(LinkNames(root_owned.get()), ElementsAre("lo"));
}

constexpr const char* kTargetErrorsClause = "sem.B1.4.move-target-errors";

NETNS_TEST(DeviceMove, UnusableTargetSelectors, kTargetErrorsClause, .kconfigs = {"CONFIG_VETH"}) {
  FileDescriptor a = CreateNetns(), b = CreateNetns();
  RouteClient in_a(a.get());
  in_a.CreateVeth("va", "vb");
  const int va = in_a.GetLink("va").value().ifindex;
  FileDescriptor regular(open("/proc/self/stat", O_RDONLY | O_CLOEXEC));
  FileDescriptor uts_ns(open("/proc/self/ns/uts", O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(regular.valid() && uts_ns.valid());

  EXPECT_THAT(AsCall(TryMove(in_a, va, {.fd = regular.get()})), SyscallFailsWithErrno(EINVAL))
      << "a regular file is not a netns";
  EXPECT_THAT(AsCall(TryMove(in_a, va, {.fd = uts_ns.get()})), SyscallFailsWithErrno(EINVAL))
      << "a UTS namespace is not a netns";
  EXPECT_THAT(AsCall(TryMove(in_a, va, {.fd = ClosedFd()})), SyscallFailsWithErrno(EBADF));
  EXPECT_THAT(AsCall(TryMove(in_a, va, {.pid = ReapedPid()})), SyscallFailsWithErrno(ESRCH));
  ASSERT_THAT(in_a.DumpNsids(), IsEmpty());
  EXPECT_THAT(AsCall(TryMove(in_a, va, {.target_nsid = 17})), SyscallFailsWithErrno(EINVAL))
      << "no netns has nsid 17 in A";
  EXPECT_TRUE(in_a.GetLink("va").has_value()) << "a failed move must leave the device in place";

  // Control: a known nsid is a usable selector.
  in_a.SetNsid(b.get(), 17);
  EXPECT_THAT(AsCall(TryMove(in_a, va, {.target_nsid = 17})), SyscallSucceeds());
  EXPECT_THAT(LinkNames(b.get()), UnorderedElementsAre("lo", "va"));
}

NETNS_TEST(DeviceMove, TwoSelectorsEinvalOwnNetnsNoop, kTargetErrorsClause,
           .kconfigs = {"CONFIG_VETH"}) {
  FileDescriptor a = CreateNetns(), b = CreateNetns();
  NetnsHolderProcess in_b(b.get());
  RouteClient in_a(a.get());
  in_a.CreateVeth("va", "vb");
  in_a.SetNsid(b.get(), 3);
  const int va = in_a.GetLink("va").value().ifindex;
  const std::vector<std::pair<const char*, MoveSpec>> pairs = {
      {"FD+PID", {.fd = b.get(), .pid = in_b.pid()}},
      {"FD+TARGET_NETNSID", {.fd = b.get(), .target_nsid = 3}},
      {"PID+TARGET_NETNSID", {.pid = in_b.pid(), .target_nsid = 3}}};
  for (const auto& [what, spec] : pairs) {
    NlOutcome outcome = TryMove(in_a, va, spec);
    EXPECT_THAT(AsCall(outcome), SyscallFailsWithErrno(EINVAL)) << what;
    // rtnl_ensure_unique_netns() has said so since before 6.1 (seen in 6.1.0-57): no gate.
    EXPECT_EQ(outcome.extack, "multiple netns identifying attributes specified") << what;
  }
  EXPECT_THAT(LinkNames(b.get()), ElementsAre("lo"));

  // Moving into the netns it is already in succeeds and changes nothing.
  EventWatcher watch(a.get(), {RTNLGRP_LINK});
  EXPECT_THAT(AsCall(TryMove(in_a, va, {.fd = a.get()})), SyscallSucceeds());
  EXPECT_EQ(in_a.GetLink("va").value().ifindex, va);
  EXPECT_FALSE(watch.WaitLinkDeleted(va, milliseconds(0))) << "a no-op move announced a departure";
}

NETNS_TEST(DeviceMove, NewIfindexInUseIsEbusy, kTargetErrorsClause, .kconfigs = {"CONFIG_VETH"}) {
  FileDescriptor a = CreateNetns(), b = CreateNetns();
  RouteClient in_a(a.get()), in_b(b.get());
  in_a.CreateVeth("va", "vb");
  const int va = in_a.GetLink("va").value().ifindex;
  const int b_lo = in_b.GetLink("lo").value().ifindex;
  EXPECT_THAT(AsCall(TryMove(in_a, va, {.fd = b.get(), .new_ifindex = b_lo})),
              SyscallFailsWithErrno(EBUSY))
      << "ifindex " << b_lo << " is lo's in the target";
  EXPECT_TRUE(in_a.GetLink("va").has_value());
  // Control: a free ifindex is honoured.
  ASSERT_THAT(AsCall(TryMove(in_a, va, {.fd = b.get(), .new_ifindex = 777})), SyscallSucceeds());
  auto moved = in_b.GetLink("va");
  ASSERT_TRUE(moved.has_value());
  EXPECT_EQ(moved->ifindex, 777);
}

}  // namespace
}  // namespace conform
