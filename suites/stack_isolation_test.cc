// network_namespaces(7) ¶1: network namespaces isolate "IPv4 and IPv6 protocol stacks, IP routing
// tables"; ip-netns(8): "another copy of the network stack, with its own routes, firewall rules,
// and network devices". Addresses and routes exist only in their netns; the same device name,
// route and nf_tables table can be made in two netns at once.

#include <arpa/inet.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "fixtures/case_registry.h"
#include "fixtures/netlink.h"
#include "fixtures/netns.h"
#include "fixtures/probe.h"
#include "fixtures/syscall_matchers.h"
#include "suites/nft_client.h"
#include "suites/sockets_helpers.h"

namespace conform {
namespace {

using namespace sockets;  // what the socket and stack suites share
using ::testing::Contains;
using ::testing::Not;

Address Inet6(const char* ip, uint16_t port) {
  Address a;
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(port);
  if (inet_pton(AF_INET6, ip, &sin6->sin6_addr) != 1) throw std::invalid_argument(ip);
  a.len = sizeof(sockaddr_in6);
  return a;
}
void AddAddress6(RouteClient& rc, int ifindex, const char* ip, int prefix) {
  in6_addr addr{};
  if (inet_pton(AF_INET6, ip, &addr) != 1) throw std::invalid_argument(ip);
  NetlinkRequest req(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
  auto* ifa = req.PutHeader<ifaddrmsg>();
  ifa->ifa_family = AF_INET6;
  ifa->ifa_prefixlen = static_cast<unsigned char>(prefix);
  ifa->ifa_flags = IFA_F_NODAD;  // usable at once: no tentative phase
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  ifa->ifa_index = static_cast<unsigned>(ifindex);
  mnl_attr_put(req.nlh(), IFA_LOCAL, sizeof(addr), &addr);
  mnl_attr_put(req.nlh(), IFA_ADDRESS, sizeof(addr), &addr);
  mnl_attr_put_u32(req.nlh(), IFA_FLAGS, IFA_F_NODAD);
  rc.Request(req, std::string("add address ") + ip);
}

// ---------------------------------------------------------------------------------------------
// IPv4/IPv6 stacks and routes

NETNS_TEST(StackIsolation, AddressesExistOnlyInTheirNetns, "netns7.isolation.ip-protocol-stacks",
           .kconfigs = {"CONFIG_VETH"}) {
  FileDescriptor a = CreateNetns(), b = CreateNetns();
  // Until a netns has an IPv4 local table (made by its first local address, e.g. lo up), IPv4
  // bind() takes any address (inet_addr_type finds no table and answers RTN_BROADCAST): B gets
  // lo up so that "not local in B" can be told apart from "B has no table yet".
  LoopbackUp(b.get());
  const auto no_v6 = Ipv6Unusable(a.get(), {"all", "default"});
  {
    RouteClient rc(a.get());
    const int va = UpVethPair(rc, "va", "vb");
    rc.AddAddress4(va, "192.0.2.1/24");
    if (!no_v6) AddAddress6(rc, va, "2001:db8::1", 64);
  }
  Address v4 = Inet4("192.0.2.1", 0);
  EXPECT_THAT(bind(SocketIn(a.get(), AF_INET, SOCK_DGRAM).get(), v4.get(), v4.len),
              SyscallSucceeds())
      << "control: 192.0.2.1 is local in A";
  EXPECT_THAT(bind(SocketIn(b.get(), AF_INET, SOCK_DGRAM).get(), v4.get(), v4.len),
              SyscallFailsWithErrno(EADDRNOTAVAIL))
      << "A's IPv4 address must not be local in B";
  if (no_v6) GTEST_SKIP() << "IPv4 checked; IPv6 part skipped: " << *no_v6;
  Address v6 = Inet6("2001:db8::1", 0);
  EXPECT_THAT(bind(SocketIn(a.get(), AF_INET6, SOCK_DGRAM).get(), v6.get(), v6.len),
              SyscallSucceeds())
      << "control: 2001:db8::1 is local in A";
  EXPECT_THAT(bind(SocketIn(b.get(), AF_INET6, SOCK_DGRAM).get(), v6.get(), v6.len),
              SyscallFailsWithErrno(EADDRNOTAVAIL))
      << "A's IPv6 address must not be local in B";
}

NETNS_TEST(StackIsolation, RoutesApplyOnlyInTheirNetns, "netns7.isolation.routing-tables",
           .kconfigs = {"CONFIG_VETH"}) {
  FileDescriptor a = CreateNetns(), b = CreateNetns();
  RouteClient rc_a(a.get()), rc_b(b.get());
  const int va = UpVethPair(rc_a, "va", "vb");
  rc_a.AddAddress4(va, "192.0.2.1/24");
  Address far = Inet4("198.51.100.7", 9);
  auto connect_from = [&](int netns_fd) {
    return connect(SocketIn(netns_fd, AF_INET, SOCK_DGRAM).get(), far.get(), far.len);
  };
  EXPECT_THAT(connect_from(a.get()), SyscallFailsWithErrno(ENETUNREACH))
      << "control: no route to 198.51.100.0/24 in A yet";

  ChangeRoute4(rc_a, RTM_NEWROUTE, "198.51.100.0", 24, va);
  EXPECT_THAT(MainTableRoutes4(rc_a), Contains("198.51.100.0/24"));
  EXPECT_THAT(MainTableRoutes4(rc_b), Not(Contains("198.51.100.0/24")));
  EXPECT_THAT(connect_from(a.get()), SyscallSucceeds()) << "A's route must serve A's sockets";
  EXPECT_THAT(connect_from(b.get()), SyscallFailsWithErrno(ENETUNREACH))
      << "A's route must not serve B's sockets";
}

// "its own routes, firewall rules, and network devices": the same device name, route and table
// can be made in two netns at once (in one netns the second one is EEXIST), and deleting them in
// one leaves the other's.
NETNS_TEST(StackIsolation, SameDeviceRouteAndTableInTwoNetns,
           "ipnetns8.own-routes-firewall-devices",
           .kconfigs = {"CONFIG_VETH", "CONFIG_NF_TABLES", "CONFIG_NF_TABLES_IPV4"}) {
  FileDescriptor a = CreateNetns(), b = CreateNetns();
  if (auto why = NfTablesUnusable(a.get())) GTEST_SKIP() << *why;
  RouteClient rc_a(a.get()), rc_b(b.get());
  NftClient nft_a(a.get()), nft_b(b.get());
  int va_a = 0;
  for (auto* side : {&rc_a, &rc_b}) {
    const int va = UpVethPair(*side, "va", "vb");
    ChangeRoute4(*side, RTM_NEWROUTE, "198.51.100.0", 24, va);
    if (side == &rc_a) va_a = va;
  }
  nft_a.AddTable("conform");
  nft_b.AddTable("conform");

  // Controls: within one netns each of them exists only once.
  try {
    rc_a.CreateVeth("va", "vc");
    ADD_FAILURE() << "a second va in A was accepted";
  } catch (const NetlinkError& e) {
    EXPECT_EQ(e.err(), EEXIST) << e.what();
  }
  try {
    ChangeRoute4(rc_a, RTM_NEWROUTE, "198.51.100.0", 24, va_a);
    ADD_FAILURE() << "the same route twice in A was accepted";
  } catch (const NetlinkError& e) {
    EXPECT_EQ(e.err(), EEXIST) << e.what();
  }
  try {
    nft_a.AddTable("conform");
    ADD_FAILURE() << "the same table twice in A was accepted";
  } catch (const NetlinkError& e) {
    EXPECT_EQ(e.err(), EEXIST) << e.what();
  }

  nft_a.DeleteTable("conform");
  ChangeRoute4(rc_a, RTM_DELROUTE, "198.51.100.0", 24, va_a);
  rc_a.DeleteLink(va_a);
  EXPECT_FALSE(rc_a.GetLink("va").has_value());
  EXPECT_THAT(MainTableRoutes4(rc_a), Not(Contains("198.51.100.0/24")));
  EXPECT_THAT(nft_a.ListTables(), Not(Contains("conform")));
  EXPECT_TRUE(rc_b.GetLink("va").has_value()) << "B's own va went with A's";
  EXPECT_THAT(MainTableRoutes4(rc_b), Contains("198.51.100.0/24")) << "B's own route went";
  EXPECT_THAT(nft_b.ListTables(), Contains("conform")) << "B's own table went";
}

}  // namespace
}  // namespace conform
