// veth pairs between network namespaces: "a pipe-like abstraction that can be used to create
// tunnels between network namespaces" (network_namespaces(7), clone(2)) carrying UDP and TCP, and
// the pair's own rules (SEMANTICS.md B2): either end's netns dying deletes both, a peer netns needs
// CAP_NET_ADMIN, IFLA_LINK_NETNSID and the nsids a cross-netns pair allocates.
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
#include <stdexcept>
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
using ::testing::ElementsAre;
using ::testing::IsEmpty;

// ---- UDP and TCP through a pair ----

sockaddr_in Inet4(const char* address, uint16_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  if (inet_pton(AF_INET, address, &sa.sin_addr) != 1)
    throw std::invalid_argument(std::string("bad IPv4 address ") + address);
  return sa;
}

std::string AddressText(const sockaddr_in& sa) {
  char text[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &sa.sin_addr, text, sizeof(text));
  return text;
}

FileDescriptor BoundUdpIn(int netns_fd, const char* address, uint16_t port) {
  FileDescriptor sock = SocketIn(netns_fd, AF_INET, SOCK_DGRAM);
  sockaddr_in sa = Inet4(address, port);
  CheckSyscall(bind(sock.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), "bind udp");
  return sock;
}

// The UDP equivalent of a ping: sends `payload` from tx to `to` every kResendInterval until rx
// receives exactly that payload, or the deadline passes. Returns the sender address rx saw.
std::optional<sockaddr_in> UdpPing(int tx, const sockaddr_in& to, int rx,
                                   const std::string& payload) {
  const auto deadline = std::chrono::steady_clock::now() + kTrafficDeadline;
  while (std::chrono::steady_clock::now() < deadline) {
    (void)sendto(tx, payload.data(), payload.size(), 0, reinterpret_cast<const sockaddr*>(&to),
                 sizeof(to));
    if (!WaitReadable(rx, kResendInterval)) continue;
    char buf[256];
    sockaddr_in from{};
    socklen_t len = sizeof(from);
    ssize_t got = recvfrom(rx, buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from), &len);
    if (got == static_cast<ssize_t>(payload.size()) && std::string(buf, got) == payload)
      return from;
  }
  return std::nullopt;
}

// Two namespaces joined by veth a<->b, each end with its address and UP, and able to send.
// A device opened without carrier keeps the noop qdisc, which drops everything, until linkwatch
// activates it (net/sched/sch_generic.c dev_activate, net/core/link_watch.c): a is opened first,
// so its carrier comes with b's open and its activation is linkwatch's (urgent while its qdisc is
// changing, yet queued behind rtnl). A datagram sent before is lost, and when the lost frame is
// the ARP request the neighbour retries only after retrans_time (1 s). So the link is ready when
// a's RTM_NEWLINK says operstate up: linkwatch sends it right after dev_activate. b, opened with
// carrier, is activated inside its own open (net/core/dev.c __dev_open).
struct VethLink {
  FileDescriptor a = CreateNetns();
  FileDescriptor b = CreateNetns();
  int a_ifindex = 0;
  int b_ifindex = 0;

  VethLink(const std::string& a_name, const std::string& a_cidr, const std::string& b_name,
           const std::string& b_cidr) {
    RouteClient in_a(a.get());
    in_a.CreateVeth(a_name, b_name, b.get());
    RouteClient in_b(b.get());
    a_ifindex = in_a.GetLink(a_name).value().ifindex;
    b_ifindex = in_b.GetLink(b_name).value().ifindex;
    in_a.AddAddress4(a_ifindex, a_cidr);
    in_b.AddAddress4(b_ifindex, b_cidr);
    EventWatcher a_events(a.get(), {RTNLGRP_LINK});  // before the links go up: no replay
    in_a.SetUp(a_ifindex, true);
    in_b.SetUp(b_ifindex, true);
    const bool a_active = a_events
                              .WaitLink(
                                  [&](const LinkEvent& e) {
                                    return e.type == RTM_NEWLINK && e.link.ifindex == a_ifindex &&
                                           e.link.operstate == kIfOperUp;
                                  },
                                  kTrafficDeadline)
                              .has_value();
    if (!a_active)
      throw std::runtime_error(a_name + " is not operationally up " +
                               std::to_string(kTrafficDeadline.count()) + " s after " + b_name +
                               " went up");
  }
};
// =====================================================================================
// veth: "a pipe-like abstraction that can be used to create tunnels between network namespaces"
// =====================================================================================

NETNS_TEST(VethTunnel, UdpDatagramsCrossBetweenNetns, "netns7.veth.tunnel-between-netns",
           .kconfigs = {"CONFIG_VETH"}) {
  FileDescriptor probe_ns = CreateNetns();
  VethLink link("va", "192.0.2.1/24", "vb", "192.0.2.2/24");
  // Negative control: a netns without the tunnel has no route to the far end.
  FileDescriptor lonely = SocketIn(probe_ns.get(), AF_INET, SOCK_DGRAM);
  const sockaddr_in far = Inet4("192.0.2.2", 4000);
  EXPECT_THAT(sendto(lonely.get(), "x", 1, 0, reinterpret_cast<const sockaddr*>(&far), sizeof(far)),
              SyscallFailsWithErrno(ENETUNREACH));

  FileDescriptor rx_b = BoundUdpIn(link.b.get(), "192.0.2.2", 4000);
  FileDescriptor rx_a = BoundUdpIn(link.a.get(), "192.0.2.1", 4001);
  auto seen = UdpPing(rx_a.get(), far, rx_b.get(), "through the tunnel A->B");
  ASSERT_TRUE(seen.has_value()) << "no datagram crossed A->B within " << kTrafficDeadline.count()
                                << " s";
  EXPECT_EQ(AddressText(*seen), "192.0.2.1");
  EXPECT_EQ(ntohs(seen->sin_port), 4001);
  // The pipe works both ways.
  auto back = UdpPing(rx_b.get(), Inet4("192.0.2.1", 4001), rx_a.get(), "and back B->A");
  ASSERT_TRUE(back.has_value()) << "no datagram crossed B->A";
  EXPECT_EQ(AddressText(*back), "192.0.2.2");
}

// A stream through the pipe: each end of the connection belongs to its own netns.
NETNS_TEST(VethTunnel, TcpConnectionThroughPairBetweenNetns, "clone2.veth.tunnel-between-netns",
           .kconfigs = {"CONFIG_VETH"}) {
  FileDescriptor probe_ns = CreateNetns();
  VethLink link("ta", "198.51.100.1/24", "tb", "198.51.100.2/24");
  const sockaddr_in server_addr = Inet4("198.51.100.2", 5001);
  FileDescriptor listener = SocketIn(link.b.get(), AF_INET, SOCK_STREAM);
  ASSERT_THAT(
      bind(listener.get(), reinterpret_cast<const sockaddr*>(&server_addr), sizeof(server_addr)),
      SyscallSucceeds());
  ASSERT_THAT(listen(listener.get(), 1), SyscallSucceeds());

  // Negative control: from a netns without the tunnel, the server is unreachable.
  FileDescriptor lonely = SocketIn(probe_ns.get(), AF_INET, SOCK_STREAM);
  EXPECT_THAT(
      connect(lonely.get(), reinterpret_cast<const sockaddr*>(&server_addr), sizeof(server_addr)),
      SyscallFailsWithErrno(ENETUNREACH));

  FileDescriptor client = SocketIn(link.a.get(), AF_INET, SOCK_STREAM);
  const timeval limit{static_cast<time_t>(kTrafficDeadline.count()), 0};
  setsockopt(client.get(), SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof(limit));
  setsockopt(client.get(), SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
  // A SYN lost while the link was being activated is retransmitted by TCP itself.
  ASSERT_THAT(
      connect(client.get(), reinterpret_cast<const sockaddr*>(&server_addr), sizeof(server_addr)),
      SyscallSucceeds());
  ASSERT_TRUE(WaitReadable(listener.get(), kTrafficDeadline));
  sockaddr_in peer{};
  socklen_t peer_len = sizeof(peer);
  FileDescriptor accepted(
      accept4(listener.get(), reinterpret_cast<sockaddr*>(&peer), &peer_len, SOCK_CLOEXEC));
  ASSERT_TRUE(accepted.valid()) << ErrnoName(errno);
  EXPECT_EQ(AddressText(peer), "198.51.100.1");

  ASSERT_THAT(write(client.get(), "ping", 4), SyscallSucceedsWithValue(4));
  char buf[8] = {};
  ASSERT_TRUE(WaitReadable(accepted.get(), kTrafficDeadline));
  ASSERT_THAT(read(accepted.get(), buf, sizeof(buf)), SyscallSucceedsWithValue(4));
  EXPECT_EQ(std::string(buf, 4), "ping");
  ASSERT_THAT(write(accepted.get(), "pong", 4), SyscallSucceedsWithValue(4));
  ASSERT_THAT(read(client.get(), buf, sizeof(buf)), SyscallSucceedsWithValue(4));
  EXPECT_EQ(std::string(buf, 4), "pong");

  if (HasSoNetnsCookie()) {  // e8b9eab99232 (v5.14)
    EXPECT_EQ(SocketNetnsCookie(accepted.get()), SocketNetnsCookie(listener.get()))
        << "the server's end must belong to B";
    EXPECT_NE(SocketNetnsCookie(client.get()), SocketNetnsCookie(accepted.get()))
        << "the two ends of the connection must be in different netns";
  }
}

// =====================================================================================
// SEMANTICS.md B2: veth pairs across namespaces
// =====================================================================================

NETNS_TEST(VethPair, EitherEndsNetnsDeathDeletesBoth, "sem.B2.1.either-end-destroys-pair",
           .kconfigs = {"CONFIG_VETH"}) {
  // Both ways at once: two pairs, the first end's netns dying for one and the peer's for the
  // other, so that one teardown (cleanup_net takes every netns queued) is waited for, not two.
  struct Way {
    bool first_dies;
    FileDescriptor dying, living;
    std::string survivor_end;
    int survivor_ifindex = 0;
    std::optional<EventWatcher> watch;
  };
  Way ways[2];
  for (int i = 0; i < 2; ++i) {
    Way& way = ways[i];
    way.first_dies = i == 0;
    FileDescriptor x = CreateNetns(), y = CreateNetns();
    RouteClient(x.get()).CreateVeth("va", "vb", y.get());
    way.dying = std::move(way.first_dies ? x : y);
    way.living = std::move(way.first_dies ? y : x);
    way.survivor_end = way.first_dies ? "vb" : "va";
    auto end = RouteClient(way.living.get()).GetLink(way.survivor_end);
    ASSERT_TRUE(end.has_value());
    way.survivor_ifindex = end->ifindex;
    way.watch.emplace(way.living.get(), std::initializer_list<unsigned>{RTNLGRP_LINK});
  }
  for (Way& way : ways) way.dying.reset();
  for (Way& way : ways) {
    SCOPED_TRACE(way.first_dies ? "the netns of the first end dies" : "the peer's netns dies");
    auto gone = way.watch->WaitLink(
        [&](const LinkEvent& e) {
          return e.type == RTM_DELLINK && e.link.ifindex == way.survivor_ifindex;
        },
        kTeardownDeadline);
    ASSERT_TRUE(gone.has_value()) << way.survivor_end << " outlived its peer's netns";
    EXPECT_FALSE(gone->link.new_netnsid.has_value()) << "deleted, not moved: " << gone->link;
    // The living netns is intact, and the name is free again there.
    RouteClient in_living(way.living.get());
    EXPECT_TRUE(in_living.GetLink("lo").has_value());
    EXPECT_THAT(AsCall(TryNetlink([&] { in_living.CreateVeth(way.survivor_end, "again"); })),
                SyscallSucceeds());
  }
}

NETNS_TEST(VethPair, PeerInNetnsWithoutCapNetAdminIsEperm,
           "sem.B2.3.peer-netns-needs-cap-net-admin", .kconfigs = {"CONFIG_VETH"}) {
  FileDescriptor root_owned = CreateNetns();
  auto child = RunInChild({.uid = kNobodyUid, .new_user_ns = true}, [&](ChildChannel& ch) {
    ch.Record("unshare", unshare(CLONE_NEWNET));
    RouteClient own;
    FileDescriptor own_second = CreateNetns();
    RecordOutcome(ch, "peer-in-root-owned",
                  TryNetlink([&] { own.CreateVeth("va", "vb", root_owned.get()); }));
    RecordOutcome(ch, "self-in-root-owned",
                  TryNetlink([&] { own.CreateVeth("vc", "vd", -1, root_owned.get()); }));
    RecordOutcome(ch, "same-netns", TryNetlink([&] { own.CreateVeth("ve", "vf"); }));
    RecordOutcome(ch, "peer-in-own",
                  TryNetlink([&] { own.CreateVeth("vg", "vh", own_second.get()); }));
  });
  ASSERT_TRUE(child.Ok()) << child.Describe();
  ASSERT_THAT(child.Call("unshare"), SyscallSucceeds());
  EXPECT_THAT(child.Call("peer-in-root-owned"), SyscallFailsWithErrno(EPERM))
      << "the kernel let a user namespace's root put a veth peer into a netns it does not "
         "administer: it lacks commit 7b735ef81286 \"rtnetlink: add missing netlink_ns_capable() "
         "check for peer netns\" and is VULNERABLE to CVE-2026-31692";
  EXPECT_THAT(child.Call("self-in-root-owned"), SyscallFailsWithErrno(EPERM));
  EXPECT_THAT(child.Call("same-netns"), SyscallSucceeds()) << "control";
  EXPECT_THAT(child.Call("peer-in-own"), SyscallSucceeds()) << "control";
  EXPECT_THAT(LinkNames(root_owned.get()), ElementsAre("lo"));
}

NETNS_TEST(VethPair, LinkNetnsidNamesPeerNetnsUntilBothEndsMeet,
           "sem.B2.4.link-netnsid-names-peer-netns", .kconfigs = {"CONFIG_VETH"}) {
  FileDescriptor x = CreateNetns(), y = CreateNetns();
  RouteClient in_x(x.get()), in_y(y.get());
  in_x.CreateVeth("va", "vb", y.get());
  auto va = in_x.GetLink("va");
  auto vb = in_y.GetLink("vb");
  ASSERT_TRUE(va && vb);
  ASSERT_TRUE(va->link_netnsid.has_value()) << *va;
  EXPECT_EQ(*va->link_netnsid, in_x.GetNsid(y.get())) << "X's nsid for Y";
  EXPECT_EQ(va->link, vb->ifindex) << "IFLA_LINK is the peer's ifindex in the peer's netns";
  ASSERT_TRUE(vb->link_netnsid.has_value()) << *vb;
  EXPECT_EQ(*vb->link_netnsid, in_y.GetNsid(x.get()));
  EXPECT_EQ(vb->link, va->ifindex);

  // Both ends in one netns: no IFLA_LINK_NETNSID any more.
  in_y.MoveToNetns(vb->ifindex, x.get());
  auto va_after = in_x.GetLink("va");
  auto vb_after = in_x.GetLink("vb");
  ASSERT_TRUE(va_after && vb_after);
  EXPECT_FALSE(va_after->link_netnsid.has_value()) << *va_after;
  EXPECT_FALSE(vb_after->link_netnsid.has_value()) << *vb_after;
  EXPECT_EQ(va_after->link, vb_after->ifindex);
}

NETNS_TEST(VethPair, CrossNetnsPairAllocatesNsidsOnBothSidesOnly,
           "sem.B2.4.link-dump-allocates-nsid", .kconfigs = {"CONFIG_VETH"}) {
  FileDescriptor issuer = CreateNetns(), x = CreateNetns(), y = CreateNetns();
  RouteClient in_issuer(issuer.get()), in_x(x.get()), in_y(y.get());
  ASSERT_EQ(in_x.GetNsid(y.get()), -1);
  ASSERT_EQ(in_y.GetNsid(x.get()), -1);
  EventWatcher x_watch(x.get(), {RTNLGRP_NSID}), y_watch(y.get(), {RTNLGRP_NSID});

  in_issuer.CreateVeth("va", "vb", y.get(), x.get());
  std::optional<int> x_view, y_view;
  for (const auto& link : in_x.DumpLinks())
    if (link.name == "va") x_view = link.link_netnsid;
  for (const auto& link : in_y.DumpLinks())
    if (link.name == "vb") y_view = link.link_netnsid;

  ASSERT_TRUE(x_view.has_value()) << "X's link dump carries no nsid for Y";
  ASSERT_TRUE(y_view.has_value()) << "Y's link dump carries no nsid for X";
  EXPECT_EQ(in_x.GetNsid(y.get()), *x_view) << "the nsid in the dump must be allocated in X";
  EXPECT_EQ(in_y.GetNsid(x.get()), *y_view);
  auto announced_x = x_watch.WaitNsid(
      [&](const NsidEvent& e) { return e.type == RTM_NEWNSID && e.nsid == *x_view; },
      kTeardownDeadline);
  auto announced_y = y_watch.WaitNsid(
      [&](const NsidEvent& e) { return e.type == RTM_NEWNSID && e.nsid == *y_view; },
      kTeardownDeadline);
  EXPECT_TRUE(announced_x.has_value()) << "no RTM_NEWNSID in X";
  EXPECT_TRUE(announced_y.has_value()) << "no RTM_NEWNSID in Y";
  // The netns that only issued the request allocated nothing.
  EXPECT_EQ(in_issuer.GetNsid(x.get()), -1);
  EXPECT_EQ(in_issuer.GetNsid(y.get()), -1);
  EXPECT_THAT(in_issuer.DumpNsids(), IsEmpty());
}

}  // namespace
}  // namespace conform
