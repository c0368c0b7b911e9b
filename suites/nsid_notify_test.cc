// nsid notifications: RTM_NEWNSID to the observers of an explicit or implicit assignment,
// RTM_DELNSID to every observer when a netns dies (SEMANTICS.md B7.4), and the teardown order
// that makes RTM_DELNSID the earliest sign of that death, before RTM_DELLINK (B9.1).
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
#include "fixtures/netlink.h"
#include "fixtures/netns.h"
#include "fixtures/stale_handles.h"
#include "fixtures/syscall_matchers.h"
#include "suites/nsid_helpers.h"

namespace conform {
namespace {

using namespace nsid;  // what every nsid suite shares
using std::chrono::milliseconds;
using ::testing::ElementsAre;

// =====================================================================================
// B7.4 notifications
// =====================================================================================

constexpr const char* kNewnsidNotification = "sem.B7.4.newnsid-notification";

NETNS_TEST(Nsid, ExplicitAssignmentAnnouncedInObserverOnly, kNewnsidNotification) {
  FileDescriptor observer = CreateNetns(), a = CreateNetns(), b = CreateNetns();
  EventWatcher in_observer(observer.get(), {RTNLGRP_NSID}), in_a(a.get(), {RTNLGRP_NSID});
  RouteClient client(observer.get());
  client.SetNsid(a.get(), 12);
  client.SetNsid(b.get(), -1);
  const int allocated = client.GetNsid(b.get());
  auto is_new = [](int nsid) {
    return [nsid](const NsidEvent& e) { return e.type == RTM_NEWNSID && e.nsid == nsid; };
  };
  EXPECT_TRUE(in_observer.WaitNsid(is_new(12), kTeardownDeadline).has_value());
  EXPECT_TRUE(in_observer.WaitNsid(is_new(allocated), kTeardownDeadline).has_value())
      << "the announcement carries the allocated nsid " << allocated;
  // Notifications go out during the request: had A been told, it would be queued by now.
  EXPECT_FALSE(in_a.WaitNsid([](const NsidEvent&) { return true; }, milliseconds(0)).has_value())
      << "the peer netns was notified of the observer's assignment";
}

NETNS_TEST(Nsid, ImplicitAssignmentByDeviceMoveAnnounced, kNewnsidNotification,
           .kconfigs = {"CONFIG_VETH"}) {
  FileDescriptor observer = CreateNetns(), peer = CreateNetns();
  RouteClient in_observer(observer.get()), in_peer(peer.get());
  in_observer.CreateVeth("va", "vb");  // both ends here: no nsid needed yet
  ASSERT_EQ(in_observer.GetNsid(peer.get()), -1);
  EventWatcher observer_watch(observer.get(), {RTNLGRP_NSID}),
      peer_watch(peer.get(), {RTNLGRP_NSID});

  in_observer.MoveToNetns(in_observer.GetLink("vb").value().ifindex, peer.get());

  const int observer_view = in_observer.GetNsid(peer.get());
  const int peer_view = in_peer.GetNsid(observer.get());
  ASSERT_GE(observer_view, 0) << "moving a veth end away must give the peer netns an nsid";
  ASSERT_GE(peer_view, 0);
  EXPECT_TRUE(
      observer_watch
          .WaitNsid(
              [&](const NsidEvent& e) { return e.type == RTM_NEWNSID && e.nsid == observer_view; },
              kTeardownDeadline)
          .has_value());
  EXPECT_TRUE(
      peer_watch
          .WaitNsid(
              [&](const NsidEvent& e) { return e.type == RTM_NEWNSID && e.nsid == peer_view; },
              kTeardownDeadline)
          .has_value());
}

NETNS_TEST(Nsid, DelnsidToEveryObserverThenEnoent, "sem.B7.4.delnsid-to-every-observer") {
  FileDescriptor first = CreateNetns(), second = CreateNetns(), doomed = CreateNetns(),
                 bystander = CreateNetns();
  RouteClient in_first(first.get()), in_second(second.get());
  in_first.SetNsid(doomed.get(), 3);
  in_first.SetNsid(bystander.get(), 4);
  in_second.SetNsid(doomed.get(), 8);
  EventWatcher first_watch(first.get(), {RTNLGRP_NSID}), second_watch(second.get(), {RTNLGRP_NSID});

  doomed.reset();

  auto first_del = first_watch.WaitNsid([](const NsidEvent& e) { return e.type == RTM_DELNSID; },
                                        kTeardownDeadline);
  auto second_del = second_watch.WaitNsid([](const NsidEvent& e) { return e.type == RTM_DELNSID; },
                                          kTeardownDeadline);
  ASSERT_TRUE(first_del.has_value()) << "no RTM_DELNSID in the first observer";
  ASSERT_TRUE(second_del.has_value()) << "no RTM_DELNSID in the second observer";
  EXPECT_EQ(first_del->nsid, 3) << "each observer is told its own nsid";
  EXPECT_EQ(second_del->nsid, 8);
  EXPECT_THAT(AsCall(GetNsidBy(in_first, {{NETNSA_NSID, 3}})), SyscallFailsWithErrno(ENOENT));
  EXPECT_THAT(AsCall(GetNsidBy(in_second, {{NETNSA_NSID, 8}})), SyscallFailsWithErrno(ENOENT));
  // Control: the bystander's nsid is untouched.
  EXPECT_THAT(AsCall(GetNsidBy(in_first, {{NETNSA_NSID, 4}})), SyscallSucceeds());
  EXPECT_THAT(in_first.DumpNsids(), ElementsAre(4));
}

// =====================================================================================
// B9.1 teardown order
// =====================================================================================

NETNS_TEST(Teardown, DelnsidArrivesBeforeDellink, "sem.B9.1.delnsid-before-dellink",
           .kconfigs = {"CONFIG_VETH"}) {
  FileDescriptor observer = CreateNetns(), doomed = CreateNetns();
  RouteClient in_observer(observer.get());
  in_observer.SetNsid(doomed.get(), 6);
  RouteClient(doomed.get()).CreateVeth("va", "vb", observer.get());
  const int vb = in_observer.GetLink("vb").value().ifindex;
  // One socket for both groups: the kernel queues its messages in the order it sends them.
  EventWatcher watch(observer.get(), {RTNLGRP_LINK, RTNLGRP_NSID});

  doomed.reset();

  std::vector<std::string> order;
  std::optional<size_t> delnsid_at, dellink_at;
  std::vector<char> buf(32768);
  const auto deadline = std::chrono::steady_clock::now() + kTeardownDeadline;
  while (!(delnsid_at && dellink_at) && std::chrono::steady_clock::now() < deadline) {
    pollfd pfd{watch.fd(), POLLIN, 0};
    if (poll(&pfd, 1, 100) <= 0) continue;
    ssize_t got = recv(watch.fd(), buf.data(), buf.size(), 0);
    ASSERT_GE(got, 0) << ErrnoName(errno);
    int left = static_cast<int>(got);
    for (auto* msg = reinterpret_cast<const nlmsghdr*>(buf.data()); mnl_nlmsg_ok(msg, left);
         msg = mnl_nlmsg_next(msg, &left)) {
      if (msg->nlmsg_type == RTM_DELNSID) {
        order.push_back("DELNSID " + std::to_string(ParseNsidAttrs(msg)[NETNSA_NSID]));
        if (ParseNsidAttrs(msg)[NETNSA_NSID] == 6 && !delnsid_at) delnsid_at = order.size();
      } else if (msg->nlmsg_type == RTM_DELLINK || msg->nlmsg_type == RTM_NEWLINK) {
        LinkInfo link = ParseLink(msg);
        order.push_back((msg->nlmsg_type == RTM_DELLINK ? "DELLINK " : "NEWLINK ") + link.name);
        if (msg->nlmsg_type == RTM_DELLINK && link.ifindex == vb && !dellink_at)
          dellink_at = order.size();
      }
    }
  }
  std::string seen;
  for (const auto& e : order) seen += " [" + e + "]";
  ASSERT_TRUE(delnsid_at.has_value()) << "no RTM_DELNSID 6; seen:" << seen;
  ASSERT_TRUE(dellink_at.has_value()) << "no RTM_DELLINK of vb; seen:" << seen;
  EXPECT_LT(*delnsid_at, *dellink_at) << "order seen:" << seen;
}

}  // namespace
}  // namespace conform
