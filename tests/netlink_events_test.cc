// Unit tests of EventWatcher (fixtures/netlink.h), in throwaway network namespaces that the test
// creates: nothing here can touch the host's devices or settings.
#include <fcntl.h>
#include <linux/net_namespace.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <exception>
#include <future>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "fixtures/fd.h"
#include "fixtures/netlink.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/netlink_test_support.h"

namespace conform {
namespace {

TEST(EventWatcherTest, SeesLinkAppearAndLeaveByMove) {
  FileDescriptor a = NewNetns();
  FileDescriptor b = NewNetns();
  RouteClient ca(a.get());
  RouteClient cb(b.get());
  ca.SetNsid(b.get(), 5);
  EventWatcher in_a(a.get(), {RTNLGRP_LINK});
  EventWatcher in_b(b.get(), {RTNLGRP_LINK});
  ca.CreateVeth("va", "vb");
  EXPECT_TRUE(in_a.WaitLinkAppeared("va", kTeardownDeadline));
  int va = IndexOf(ca, "va");

  ca.MoveToNetns(va, b.get());
  std::optional<LinkEvent> left = in_a.WaitLink(
      [&](const LinkEvent& e) { return e.type == RTM_DELLINK && e.link.ifindex == va; },
      kTeardownDeadline);
  ASSERT_TRUE(left.has_value());
  EXPECT_EQ(left->link.new_netnsid, 5) << left->link;
  EXPECT_TRUE(in_b.WaitLinkAppeared("va", kTeardownDeadline));
  EXPECT_EQ(left->link.new_ifindex, IndexOf(cb, "va"));
}

TEST(EventWatcherTest, TimesOutWithoutMatchingEvent) {
  FileDescriptor a = NewNetns();
  EventWatcher watcher(a.get(), {RTNLGRP_LINK});
  EXPECT_FALSE(watcher.WaitLinkAppeared("never", 20ms));
  EXPECT_FALSE(watcher.WaitNsid([](const NsidEvent&) { return true; }, 0ms).has_value());
}

// The headline veth behaviour: closing the last fd of a netns destroys the veth end inside it and
// its peer in the observer netns. DELNSID comes first and stays queued while we wait for DELLINK.
TEST(EventWatcherTest, SeesPeerDeletedWhenNetnsFdCloses) {
  FileDescriptor observer = NewNetns();
  FileDescriptor victim = NewNetns();
  RouteClient co(observer.get());
  co.CreateVeth("obs0", "vic0", victim.get());
  int obs0 = IndexOf(co, "obs0");
  // Reporting obs0's link netns already gave the victim an nsid in the observer.
  int nsid = co.GetNsid(victim.get());
  ASSERT_GE(nsid, 0);
  EventWatcher watcher(observer.get(), {RTNLGRP_LINK, RTNLGRP_NSID});

  victim.reset();
  EXPECT_TRUE(watcher.WaitLinkDeleted(obs0, kTeardownDeadline));
  EXPECT_TRUE(
      watcher
          .WaitNsid([&](const NsidEvent& e) { return e.type == RTM_DELNSID && e.nsid == nsid; },
                    kTeardownDeadline)
          .has_value());
  EXPECT_THAT(Names(co.DumpLinks()), ElementsAre("lo"));
  EXPECT_THAT(co.DumpNsids(), IsEmpty());
}

// A netlink socket pins its netns (SEMANTICS.md B4.2): the netns dies with the client, not the fd.
TEST(EventWatcherTest, RouteClientKeepsItsNetnsAlive) {
  FileDescriptor observer = NewNetns();
  FileDescriptor victim = NewNetns();
  RouteClient co(observer.get());
  co.CreateVeth("obs0", "vic0", victim.get());
  int obs0 = IndexOf(co, "obs0");
  EventWatcher watcher(observer.get(), {RTNLGRP_LINK});
  std::optional<RouteClient> in_victim(std::in_place, victim.get());

  victim.reset();
  EXPECT_FALSE(watcher.WaitLinkDeleted(obs0, 100ms));
  EXPECT_TRUE(in_victim->GetLink("vic0").has_value());
  in_victim.reset();
  EXPECT_TRUE(watcher.WaitLinkDeleted(obs0, kTeardownDeadline));
}

TEST(EventWatcherTest, OverrunIsAnError) {
  FileDescriptor a = NewNetns();
  RouteClient ca(a.get());
  EventWatcher watcher(a.get(), {RTNLGRP_LINK});
  int tiny = 1;  // the kernel rounds up to its minimum, a few KiB
  ASSERT_EQ(setsockopt(watcher.fd(), SOL_SOCKET, SO_RCVBUF, &tiny, sizeof(tiny)), 0);
  for (int i = 0; i < 100; ++i) ca.SetUp(1, i % 2 == 0);
  try {
    watcher.WaitLink([](const LinkEvent&) { return false; }, kTeardownDeadline);
    ADD_FAILURE() << "the overrun went unreported";
  } catch (const SystemError& e) {
    EXPECT_EQ(e.err(), ENOBUFS) << e.what();
  }
  // The watcher stays usable after reporting the loss.
  ca.SetUp(1, true);
  EXPECT_TRUE(watcher
                  .WaitLink([](const LinkEvent& e) { return e.link.ifindex == 1 && e.link.IsUp(); },
                            kTeardownDeadline)
                  .has_value());
}

}  // namespace
}  // namespace conform
