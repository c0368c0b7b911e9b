// The fate of devices when their netns dies (SEMANTICS.md B1.1/B1.2): virtual devices are
// deleted, physical ones refunded to the initial netns, keeping their name and ifindex when free,
// dropping only the altnames that clash, arriving down and without addresses.
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
using std::chrono::milliseconds;
using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

// =====================================================================================
// SEMANTICS.md B1.1/B1.2: refunded or deleted when the netns dies
// =====================================================================================

NETNS_TEST(DeviceFate, VirtualDevicesDeletedPhysicalRefunded,
           "sem.B1.1.virtual-devices-deleted-not-refunded",
           .kconfigs = {"CONFIG_VETH", "CONFIG_BRIDGE", "CONFIG_MACVLAN", "CONFIG_VXLAN"},
           .refundable_device = true) {
  LentDevice lent;
  FileDescriptor observer = CreateNetns(), doomed = CreateNetns();
  std::vector<std::string> virtual_names = {"nc-va", "nc-br", "nc-mv", "nc-vx"};
  int marker = 0;
  {
    RouteClient in_d(doomed.get());
    in_d.CreateVeth("nc-va", "nc-vb", observer.get());
    CreateSimpleLink(in_d, "bridge", "nc-br");
    in_d.CreateMacvlan("nc-mv", in_d.GetLink("nc-va").value().ifindex);
    in_d.CreateVxlan("nc-vx", 42, std::nullopt);
    // ifb is in B1.5's list of deleted devices; not every kernel has the driver.
    if (TryNetlink([&] { CreateSimpleLink(in_d, "ifb", "nc-ifb"); }).err == 0)
      virtual_names.push_back("nc-ifb");
    marker = RouteClient(observer.get()).GetLink("nc-vb").value().ifindex;
  }
  lent.init().MoveToNetns(lent.ifindex(), doomed.get());
  EventWatcher observer_watch(observer.get(), {RTNLGRP_LINK});

  doomed.reset();

  // Every device that arrives in the initial netns, up to the physical one (positive control)...
  std::vector<std::string> arrived;
  auto record_until = [&](bool stop_at_lent) {
    return [&arrived, &lent, stop_at_lent](const LinkEvent& e) {
      if (e.type != RTM_NEWLINK) return false;
      arrived.push_back(e.link.name);
      return stop_at_lent && lent.IsArrival(e);
    };
  };
  ASSERT_TRUE(lent.watcher().WaitLink(record_until(true), kTeardownDeadline))
      << "the physical device was not refunded";
  // ...and after it, up to the moment the veth pair is gone: by then the netns's devices have all
  // been dealt with (default_device_exit_batch refunds first, then deletes).
  ASSERT_TRUE(observer_watch.WaitLinkDeleted(marker, kTeardownDeadline));
  lent.watcher().WaitLink(record_until(false), milliseconds(0));  // what is queued
  for (const auto& name : virtual_names) {
    EXPECT_EQ(std::count(arrived.begin(), arrived.end(), name), 0)
        << name << " arrived in the initial netns";
    EXPECT_FALSE(lent.init().GetLink(name).has_value()) << name << " is in the initial netns";
  }
}

NETNS_TEST(DeviceFate, RefundKeepsNameAndIfindexWhenFree, "sem.B1.2.refund-keeps-name-and-ifindex",
           .refundable_device = true) {
  LentDevice lent;
  FileDescriptor x = CreateNetns();
  lent.init().MoveToNetns(lent.ifindex(), x.get());
  // X holds only lo, so the device kept its ifindex there too: the one it will offer back.
  ASSERT_EQ(IfindexOf(x.get(), lent.name()), lent.ifindex());
  ASSERT_FALSE(lent.init().GetLink(lent.ifindex()).has_value())
      << "its ifindex must be free in the initial netns while it is away";

  x.reset();

  auto back = lent.WaitBack();
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->link.name, lent.name());
  EXPECT_EQ(back->link.ifindex, lent.ifindex());
  auto now = GetDetails(lent.init(), lent.ifindex());
  ASSERT_TRUE(now.has_value());
  EXPECT_EQ(now->mac, lent.mac()) << "another device holds the ifindex";
  EXPECT_EQ(now->name, lent.name());
}

NETNS_TEST(DeviceFate, RefundDropsOnlyClashingAltnames, "sem.B1.2.refund-drops-clashing-altnames",
           .refundable_device = true) {
  LentDevice lent;
  // An altname that clashes in the initial netns: the name of another device there (only read;
  // not lo, whose name X has too).
  std::string taken;
  for (const auto& link : lent.init().DumpLinks())
    if (link.ifindex != lent.ifindex() && link.name != "lo") taken = link.name;
  if (taken.empty()) GTEST_SKIP() << "no device but lo in the initial netns to clash with";
  const std::string kept = "nc-alt-" + std::to_string(getpid());

  FileDescriptor x = CreateNetns();
  lent.init().MoveToNetns(lent.ifindex(), x.get());
  {
    RouteClient in_x(x.get());
    const int in_x_index = in_x.GetLink(lent.name()).value().ifindex;
    ChangeAltname(in_x, RTM_NEWLINKPROP, in_x_index, taken);
    ChangeAltname(in_x, RTM_NEWLINKPROP, in_x_index, kept);
    EXPECT_THAT(GetDetails(in_x, in_x_index)->altnames, UnorderedElementsAre(taken, kept));
  }

  x.reset();

  ASSERT_TRUE(lent.WaitBack().has_value());
  auto now = GetDetails(lent.init(), lent.ifindex());
  ASSERT_TRUE(now.has_value());
  EXPECT_THAT(now->altnames, ElementsAre(kept))
      << "the altname " << taken << " clashes in the initial netns and must be dropped";
  auto owner = lent.init().GetLink(taken);
  ASSERT_TRUE(owner.has_value());
  EXPECT_NE(owner->ifindex, lent.ifindex()) << taken << " must still name the other device";
}

NETNS_TEST(DeviceFate, RefundArrivesDownWithoutAddresses, "sem.B1.2.refund-arrives-closed",
           .refundable_device = true) {
  LentDevice lent;
  FileDescriptor x = CreateNetns();
  lent.init().MoveToNetns(lent.ifindex(), x.get());
  {
    RouteClient in_x(x.get());
    const int in_x_index = in_x.GetLink(lent.name()).value().ifindex;
    SetAddrGenModeNone(in_x, in_x_index);
    in_x.AddAddress4(in_x_index, "192.0.2.77/24");
    in_x.SetUp(in_x_index, true);
    ASSERT_TRUE(in_x.GetLink(in_x_index)->IsUp());
    ASSERT_THAT(in_x.DumpAddresses(in_x_index), ::testing::Contains("192.0.2.77/24"));
  }

  x.reset();

  ASSERT_TRUE(lent.WaitBack().has_value());
  auto now = lent.init().GetLink(lent.ifindex());
  ASSERT_TRUE(now.has_value());
  EXPECT_FALSE(now->IsUp()) << "a refunded device arrives closed";
  EXPECT_THAT(lent.init().DumpAddresses(lent.ifindex()),
              ::testing::Not(::testing::Contains("192.0.2.77/24")));
}

}  // namespace
}  // namespace conform
