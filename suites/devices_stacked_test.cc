// Stacked devices (SEMANTICS.md B1.5): a macvlan or vxlan dies with the netns of its lower
// device or link netns, wherever it lives itself.
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
#include "fixtures/netlink.h"
#include "fixtures/netns.h"
#include "fixtures/probe.h"
#include "fixtures/stale_handles.h"
#include "fixtures/syscall_matchers.h"
#include "suites/devices_helpers.h"

namespace conform {
namespace {

using namespace devices;  // what every device suite shares
using ::testing::ElementsAre;

// =====================================================================================
// SEMANTICS.md B1.5: stacked devices die with the netns of their lower device
// =====================================================================================

constexpr const char* kStackedClause = "sem.B1.5.stacked-devices-die-with-lower-netns";

NETNS_TEST(StackedDevice, MacvlanDiesWithLowerDevicesNetns, kStackedClause,
           .kconfigs = {"CONFIG_VETH", "CONFIG_MACVLAN"}) {
  FileDescriptor a = CreateNetns(), lower = CreateNetns();
  RouteClient in_a(a.get());
  in_a.CreateVeth("keep0", "keep1");  // control: unrelated to the lower netns
  {
    RouteClient in_lower(lower.get());
    in_lower.CreateVeth("low0", "low1");
    in_lower.CreateMacvlan("mv0", in_lower.GetLink("low0").value().ifindex);
    in_lower.MoveToNetns(in_lower.GetLink("mv0").value().ifindex, a.get());
  }
  auto mv = in_a.GetLink("mv0");
  ASSERT_TRUE(mv.has_value());
  EXPECT_EQ(mv->kind, "macvlan");
  EXPECT_TRUE(mv->link_netnsid.has_value()) << "its lower device is in another netns: " << *mv;
  EventWatcher watch(a.get(), {RTNLGRP_LINK});

  lower.reset();

  EXPECT_TRUE(watch.WaitLinkDeleted(mv->ifindex, kTeardownDeadline))
      << "the macvlan outlived its lower device's netns";
  EXPECT_FALSE(in_a.GetLink("mv0").has_value());
  EXPECT_TRUE(in_a.GetLink("keep0").has_value()) << "A's own devices must stay";
}

NETNS_TEST(StackedDevice, VxlanDiesWithItsLinkNetns, kStackedClause,
           .kconfigs = {"CONFIG_VETH", "CONFIG_VXLAN"}) {
  FileDescriptor a = CreateNetns(), link_ns = CreateNetns();
  RouteClient in_a(a.get());
  in_a.CreateVeth("keep0", "keep1");
  in_a.SetNsid(link_ns.get(), 7);
  in_a.CreateVxlan("vx0", 42, 7);
  auto vx = in_a.GetLink("vx0");
  ASSERT_TRUE(vx.has_value());
  EXPECT_EQ(vx->link_netnsid, 7) << *vx;
  EXPECT_THAT(LinkNames(link_ns.get()), ElementsAre("lo")) << "the vxlan belongs in A";
  EventWatcher watch(a.get(), {RTNLGRP_LINK});

  link_ns.reset();

  EXPECT_TRUE(watch.WaitLinkDeleted(vx->ifindex, kTeardownDeadline))
      << "the vxlan outlived its link-netns";
  EXPECT_FALSE(in_a.GetLink("vx0").has_value());
  EXPECT_TRUE(in_a.GetLink("keep0").has_value());
}

}  // namespace
}  // namespace conform
