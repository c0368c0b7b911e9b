// network_namespaces(7) ¶1: network namespaces isolate "firewall rules": an nf_tables drop rule
// made in one netns filters only that netns's traffic.
//
// Rules are made through nf_tables over raw NETLINK_NETFILTER (suites/nft_client.h): a base chain
// on the IPv4 LOCAL_OUT hook with one "drop" rule. A drop on the output path makes a local
// sendto() fail with EPERM, which is how a rule is seen to act.

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

// A UDP receiver on 127.0.0.1 in netns_fd and a sender next to it: whether a datagram leaves.
struct LoopbackUdp {
  FileDescriptor receiver, sender;
  Address to;
  explicit LoopbackUdp(int netns_fd)
      : receiver(SocketIn(netns_fd, AF_INET, SOCK_DGRAM)),
        sender(SocketIn(netns_fd, AF_INET, SOCK_DGRAM)) {
    Address any = Inet4("127.0.0.1", 0);
    CheckSyscall(bind(receiver.get(), any.get(), any.len), "bind(127.0.0.1:0)");
    to = Inet4("127.0.0.1", BoundPort(receiver.get()));
  }
  long Send() { return sendto(sender.get(), "x", 1, 0, to.get(), to.len); }
  // Waits (poll, bounded) for the datagram, then takes it; EAGAIN when none came in time.
  long Receive(std::chrono::milliseconds wait = std::chrono::milliseconds(5000)) {
    WaitReadable(receiver.get(), wait);
    char byte;
    return recv(receiver.get(), &byte, 1, MSG_DONTWAIT);
  }
};
NETNS_TEST(StackIsolation, FirewallRuleFiltersOnlyItsNetns, "netns7.isolation.firewall-rules",
           .kconfigs = {"CONFIG_NF_TABLES", "CONFIG_NF_TABLES_IPV4"}) {
  FileDescriptor a = CreateNetns(), b = CreateNetns();
  LoopbackUp(a.get());
  LoopbackUp(b.get());
  LoopbackUdp udp_a(a.get()), udp_b(b.get());
  if (auto why = NfTablesUnusable(a.get())) GTEST_SKIP() << *why;
  ASSERT_THAT(udp_a.Send(), SyscallSucceedsWithValue(1)) << "control: no rule yet in A";
  ASSERT_THAT(udp_a.Receive(), SyscallSucceedsWithValue(1));

  NftClient nft_a(a.get()), nft_b(b.get());
  nft_a.AddTable("conform");
  nft_a.AddOutputChain("conform", "out");
  nft_a.AddDropRule("conform", "out");
  EXPECT_THAT(nft_a.ListTables(), Contains("conform"));
  EXPECT_THAT(nft_b.ListTables(), Not(Contains("conform")));

  EXPECT_THAT(udp_a.Send(), SyscallFailsWithErrno(EPERM)) << "A's drop rule must act in A";
  EXPECT_THAT(udp_a.Receive(std::chrono::milliseconds(0)), SyscallFailsWithErrno(EAGAIN))
      << "the dropped datagram arrived";
  EXPECT_THAT(udp_b.Send(), SyscallSucceedsWithValue(1)) << "A's drop rule must not act in B";
  EXPECT_THAT(udp_b.Receive(), SyscallSucceedsWithValue(1));
}

}  // namespace
}  // namespace conform
