// network_namespaces(7): "When a namespace is freed, the veth(4) devices that it contains are
// destroyed." SEMANTICS.md B2.1: veth_dellink queues both ends, so the peer vanishes from its own
// (living) netns too; B2.2: a pair can be created with its peer directly in another netns.
// Every death is awaited by RTM_DELLINK in a living observer netns, with a deadline.
#include <fcntl.h>
#include <linux/rtnetlink.h>

#include <chrono>

#include "fixtures/case_registry.h"
#include "fixtures/child.h"
#include "fixtures/netlink.h"
#include "fixtures/netns.h"
#include "fixtures/syscall_matchers.h"

namespace conform {
namespace {

using std::chrono::seconds;
constexpr const char* kVethClause = "netns7.veth.destroyed-with-netns";
constexpr auto kTeardownDeadline = seconds(10);

// Links of a netns other than lo.
std::vector<std::string> NonLoopbackLinks(int netns_fd) {
  std::vector<std::string> names;
  for (const auto& link : RouteClient(netns_fd).DumpLinks())
    if (link.name != "lo") names.push_back(link.name);
  return names;
}

NETNS_TEST(Veth, PeerDestroyedWhenNetnsFreed, kVethClause, .kconfigs = {"CONFIG_VETH"}) {
  FileDescriptor observer = CreateNetns(), doomed = CreateNetns();
  RouteClient(doomed.get()).CreateVeth("va", "vb", observer.get());
  RouteClient watch_side(observer.get());
  auto vb = watch_side.GetLink("vb");
  ASSERT_TRUE(vb.has_value()) << "the peer must exist in the observer netns";
  EventWatcher watcher(observer.get(), {RTNLGRP_LINK});

  doomed.reset();  // the only reference: the netns is freed now

  EXPECT_TRUE(watcher.WaitLinkDeleted(vb->ifindex, kTeardownDeadline))
      << "no RTM_DELLINK for the peer within " << kTeardownDeadline.count() << " s";
  EXPECT_FALSE(watch_side.GetLink("vb").has_value());
}

// "when the last process in the namespace terminates": a process, not an fd, holds it here.
NETNS_TEST(Veth, PeerDestroyedWhenLastProcessExits, kVethClause, .kconfigs = {"CONFIG_VETH"}) {
  FileDescriptor observer = CreateNetns();
  NetnsHolderProcess holder;
  {
    FileDescriptor doomed(open(holder.NetnsPath().c_str(), O_RDONLY | O_CLOEXEC));
    ASSERT_TRUE(doomed.valid()) << holder.NetnsPath() << ": " << ErrnoName(errno);
    RouteClient(doomed.get()).CreateVeth("va", "vb", observer.get());
  }  // fd and netlink socket closed: only the process holds the netns now
  auto vb = RouteClient(observer.get()).GetLink("vb");
  ASSERT_TRUE(vb.has_value());
  EventWatcher watcher(observer.get(), {RTNLGRP_LINK});

  holder.Release();

  EXPECT_TRUE(watcher.WaitLinkDeleted(vb->ifindex, kTeardownDeadline));
}

NETNS_TEST(Veth, PeerCreatedDirectlyInAnotherNetns, "sem.B2.2.veth-peer-in-other-netns",
           .kconfigs = {"CONFIG_VETH"}) {
  FileDescriptor issuer = CreateNetns(), x = CreateNetns(), y = CreateNetns();
  // Sent from a third netns: va goes to X, vb to Y, nothing stays with the issuer.
  RouteClient(issuer.get()).CreateVeth("va", "vb", y.get(), x.get());
  EXPECT_THAT(NonLoopbackLinks(issuer.get()), ::testing::IsEmpty());
  EXPECT_THAT(NonLoopbackLinks(x.get()), ::testing::ElementsAre("va"));
  EXPECT_THAT(NonLoopbackLinks(y.get()), ::testing::ElementsAre("vb"));

  // B2.4: each end names its peer by ifindex in a netns known by nsid.
  auto va = RouteClient(x.get()).GetLink("va");
  auto vb = RouteClient(y.get()).GetLink("vb");
  ASSERT_TRUE(va && vb);
  EXPECT_EQ(va->kind, "veth");
  EXPECT_EQ(va->link, vb->ifindex);
  EXPECT_TRUE(va->link_netnsid.has_value()) << "IFLA_LINK_NETNSID missing on a cross-netns veth";
}

NETNS_TEST(Veth, BothEndsDieWhenPeerNetnsFreed, kVethClause, .kconfigs = {"CONFIG_VETH"}) {
  FileDescriptor x = CreateNetns(), y = CreateNetns();
  RouteClient(x.get()).CreateVeth("va", "vb", y.get());
  RouteClient x_side(x.get());
  auto va = x_side.GetLink("va");
  ASSERT_TRUE(va.has_value());
  EventWatcher watcher(x.get(), {RTNLGRP_LINK});

  y.reset();  // the netns holding the *peer* dies; the end in X must go too

  EXPECT_TRUE(watcher.WaitLinkDeleted(va->ifindex, kTeardownDeadline));
  EXPECT_FALSE(x_side.GetLink("va").has_value());
}

// Moving an end first changes which netns's death matters (SEMANTICS.md B2.1 [C]).
NETNS_TEST(Veth, MovedEndFollowsItsNewNetns, kVethClause, .kconfigs = {"CONFIG_VETH"}) {
  FileDescriptor observer = CreateNetns(), first = CreateNetns(), second = CreateNetns();
  RouteClient(first.get()).CreateVeth("va", "vb", observer.get());
  // A marker pair that stays in `first`: its peer's RTM_DELLINK tells us first's devices are gone.
  RouteClient(first.get()).CreateVeth("ma", "mb", observer.get());
  {
    RouteClient first_side(first.get());
    auto va = first_side.GetLink("va");
    ASSERT_TRUE(va.has_value());
    first_side.MoveToNetns(va->ifindex, second.get());
  }
  RouteClient watch_side(observer.get());
  auto vb = watch_side.GetLink("vb");
  auto mb = watch_side.GetLink("mb");
  ASSERT_TRUE(vb && mb);
  ASSERT_TRUE(RouteClient(second.get()).GetLink("va").has_value()) << "va did not arrive";
  EventWatcher watcher(observer.get(), {RTNLGRP_LINK});

  first.reset();
  ASSERT_TRUE(watcher.WaitLinkDeleted(mb->ifindex, kTeardownDeadline))
      << "the first netns's devices were never torn down";
  EXPECT_TRUE(watch_side.GetLink("vb").has_value())
      << "vb died with the netns va had left: the move did not count";

  second.reset();
  EXPECT_TRUE(watcher.WaitLinkDeleted(vb->ifindex, kTeardownDeadline))
      << "vb must die with the netns va moved to";
}

}  // namespace
}  // namespace conform
