// network_namespaces(7): "When a network namespace is freed (i.e., when the last process in the
// namespace terminates), its physical network devices are moved back to the initial network
// namespace (not to the parent of the process)." SEMANTICS.md B1.1/B1.2: devices without
// rtnl_link_ops are refunded; on a name clash in the initial netns the device is renamed devN.
//
// These need a device the kernel refunds: a NIC the user lent with --spare-nic, or netdevsim in
// the disposable VM. The host's own NICs are never used; without a device the cases SKIP.
#include <fcntl.h>
#include <linux/rtnetlink.h>
#include <sys/file.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <regex>
#include <string>

#include "fixtures/case_registry.h"
#include "fixtures/netlink.h"
#include "fixtures/netns.h"
#include "fixtures/refund_device.h"
#include "fixtures/syscall_matchers.h"

namespace conform {
namespace {

using std::chrono::seconds;
constexpr const char* kRefundClause = "netns7.physdev.returns-to-initial-netns";
constexpr auto kTeardownDeadline = seconds(10);

NETNS_TEST(Refund, PhysicalDeviceReturnsToInitialNetnsWhenFreed, kRefundClause,
           .refundable_device = true) {
  DeviceTurn turn;
  RefundableDevice device = RefundableDevice::Acquire();
  RouteClient init(device.init_netns());
  auto before = init.GetLink(device.name());
  ASSERT_TRUE(before.has_value()) << device.name() << " is not in the initial netns";
  ASSERT_FALSE(IdentifyNetns(device.init_netns()) == CurrentNetnsIdentity())
      << "the case must run in a netns of its own (the 'parent'), not the initial one";
  Cleanup restore = RestoreName(init, device.name(), before->ifindex);

  FileDescriptor x = CreateNetns();
  init.MoveToNetns(before->ifindex, x.get());
  ASSERT_FALSE(init.GetLink(device.name()).has_value());
  ASSERT_TRUE(RouteClient(x.get()).GetLink(device.name()).has_value());
  EventWatcher watcher(device.init_netns(), {RTNLGRP_LINK});

  x.reset();

  ASSERT_TRUE(watcher.WaitLinkAppeared(device.name(), kTeardownDeadline))
      << device.name() << " did not come back to the initial netns";
  auto after = init.GetLink(device.name());
  ASSERT_TRUE(after.has_value());
  EXPECT_FALSE(after->IsUp()) << "a refunded device arrives closed (B1.2)";
  EXPECT_FALSE(RouteClient(OpenCurrentNetns().get()).GetLink(device.name()).has_value())
      << "it went to the creating process's netns, not the initial one";
}

// "not to the parent": a netns B created from inside A. When B dies, A is alive and is where B
// came from; the device still goes to the initial netns.
NETNS_TEST(Refund, ReturnsToInitialNetnsNotToParent, kRefundClause, .refundable_device = true) {
  DeviceTurn turn;
  RefundableDevice device = RefundableDevice::Acquire();
  RouteClient init(device.init_netns());
  auto before = init.GetLink(device.name());
  ASSERT_TRUE(before.has_value());
  Cleanup restore = RestoreName(init, device.name(), before->ifindex);

  FileDescriptor parent = CreateNetns(), child;
  RunInNetns(parent.get(), [&] { child = CreateNetns(); });
  init.MoveToNetns(before->ifindex, parent.get());
  {
    RouteClient in_parent(parent.get());
    auto moved = in_parent.GetLink(device.name());
    ASSERT_TRUE(moved.has_value());
    in_parent.MoveToNetns(moved->ifindex, child.get());
  }
  ASSERT_TRUE(RouteClient(child.get()).GetLink(device.name()).has_value());
  EventWatcher init_watch(device.init_netns(), {RTNLGRP_LINK});

  child.reset();

  EXPECT_TRUE(init_watch.WaitLinkAppeared(device.name(), kTeardownDeadline))
      << device.name() << " did not come back to the initial netns";
  EXPECT_FALSE(RouteClient(parent.get()).GetLink(device.name()).has_value())
      << "the device went to the parent netns";
}

// B1.2: the name is kept when free in the initial netns; on a clash the device becomes devN.
NETNS_TEST(Refund, RenamedDevNWhenNameTakenInInitialNetns, "sem.B1.2.refund-renamed-on-clash",
           .refundable_device = true) {
  DeviceTurn turn;
  RefundableDevice device = RefundableDevice::Acquire();
  RouteClient init(device.init_netns());
  auto before = init.GetLink(device.name());
  ASSERT_TRUE(before.has_value());
  Cleanup restore = RestoreName(init, device.name(), before->ifindex);
  // Rename it, inside the test netns, to a name that another device holds in the initial netns:
  // no device other than the lent one is touched, only its name is read.
  std::string taken;
  for (const auto& link : init.DumpLinks())
    if (link.name != "lo" && link.ifindex != before->ifindex) taken = link.name;
  SKIP_IF(taken.empty());  // no other non-loopback device in the initial netns to clash with

  FileDescriptor x = CreateNetns();
  init.MoveToNetns(before->ifindex, x.get(), taken);
  ASSERT_TRUE(RouteClient(x.get()).GetLink(taken).has_value());
  EventWatcher watcher(device.init_netns(), {RTNLGRP_LINK});

  x.reset();

  const std::regex dev_n("dev[0-9]+");
  auto back = watcher.WaitLink(
      [&](const LinkEvent& e) {
        return e.type == RTM_NEWLINK && std::regex_match(e.link.name, dev_n);
      },
      kTeardownDeadline);
  ASSERT_TRUE(back.has_value()) << "no devN device appeared in the initial netns";
  // Its old ifindex was free in the initial netns, so it is kept (B1.2): this is our device.
  EXPECT_EQ(back->link.ifindex, before->ifindex);
  auto theirs = init.GetLink(taken);
  ASSERT_TRUE(theirs.has_value()) << "the device that owns " << taken << " must keep its name";
  EXPECT_NE(theirs->ifindex, back->link.ifindex);
}

}  // namespace
}  // namespace conform
