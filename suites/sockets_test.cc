// The network stack a socket sees is the one of the netns it was created in.
// network_namespaces(7) ¶1: network namespaces isolate "IPv4 and IPv6 protocol stacks, IP routing
// tables, firewall rules, [...] port numbers (sockets)"; ip-netns(8): "another copy of the network
// stack, with its own routes, firewall rules, and network devices". SEMANTICS.md B5.4: a socket
// keeps the netns it was created in across unshare/setns; B4.5: SIOCGSKNS hands back that netns
// and needs CAP_NET_ADMIN over it.
//
// Firewall rules are made through nf_tables over raw NETLINK_NETFILTER (no nft/iptables tool is
// needed): a base chain on the IPv4 LOCAL_OUT hook with one "drop" rule. A drop on the output
// path makes a local sendto() fail with EPERM, which is how a rule is seen to act.
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
#include "fixtures/child.h"
#include "fixtures/netlink.h"
#include "fixtures/netns.h"
#include "fixtures/probe.h"
#include "fixtures/syscall_matchers.h"

namespace conform {
namespace {

using ::testing::Contains;
using ::testing::Not;

constexpr const char* kPortClause = "netns7.isolation.port-numbers";
constexpr const char* kKeepsClause = "sem.B5.4.socket-keeps-creation-netns";

// ---------------------------------------------------------------------------------------------
// Sockets and addresses

// A socket created inside netns_fd; the calling thread does not move.
FileDescriptor SocketIn(int netns_fd, int domain, int type) {
  FileDescriptor sock;
  int err = 0;
  RunInNetns(netns_fd, [&] {
    sock.reset(socket(domain, type | SOCK_CLOEXEC, 0));
    err = errno;
  });
  if (!sock) throw SystemError("socket() in netns", err);
  return sock;
}

struct Address {
  sockaddr_storage storage{};
  socklen_t len = 0;
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

Address Inet4(const char* ip, uint16_t port) {
  Address a;
  auto* sin = reinterpret_cast<sockaddr_in*>(&a.storage);
  sin->sin_family = AF_INET;
  sin->sin_port = htons(port);
  if (inet_pton(AF_INET, ip, &sin->sin_addr) != 1) throw std::invalid_argument(ip);
  a.len = sizeof(sockaddr_in);
  return a;
}

Address Inet6(const char* ip, uint16_t port) {
  Address a;
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(port);
  if (inet_pton(AF_INET6, ip, &sin6->sin6_addr) != 1) throw std::invalid_argument(ip);
  a.len = sizeof(sockaddr_in6);
  return a;
}

uint16_t BoundPort(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  CheckSyscall(getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len), "getsockname");
  return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);  // same offset for in6
}

// Why IPv6 cannot be used in netns_fd (read there at test time), or nullopt when it can.
std::optional<std::string> Ipv6Unusable(int netns_fd) {
  std::optional<std::string> why;
  RunInNetns(netns_fd, [&] {
    if (access("/proc/sys/net/ipv6", F_OK) != 0) {
      why = "no IPv6 in this kernel (/proc/sys/net/ipv6 is missing)";
      return;
    }
    for (const char* knob : {"all", "default"}) {
      std::ifstream in(std::string("/proc/sys/net/ipv6/conf/") + knob + "/disable_ipv6");
      int value = 0;
      if (in >> value && value != 0) {
        why = std::string("net.ipv6.conf.") + knob + ".disable_ipv6 is " + std::to_string(value) +
              " in a fresh netns (copied from the host by devconf_inherit_init_net)";
        return;
      }
    }
  });
  return why;
}

// ---------------------------------------------------------------------------------------------
// rtnetlink beyond RouteClient's own requests

int UpVethPair(RouteClient& rc, const std::string& name, const std::string& peer) {
  rc.CreateVeth(name, peer);
  auto a = rc.GetLink(name);
  auto b = rc.GetLink(peer);
  if (!a || !b) throw std::runtime_error("veth " + name + " missing after creation");
  rc.SetUp(a->ifindex, true);
  rc.SetUp(b->ifindex, true);
  return a->ifindex;
}

void LoopbackUp(int netns_fd) {
  RouteClient rc(netns_fd);
  auto lo = rc.GetLink("lo");
  if (!lo) throw std::runtime_error("no lo in the netns");
  rc.SetUp(lo->ifindex, true);
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

// An IPv4 route in the main table: "dst/prefix dev oif" (scope link).
void ChangeRoute4(RouteClient& rc, uint16_t type, const char* dst, int prefix, int oif) {
  in_addr addr{};
  if (inet_pton(AF_INET, dst, &addr) != 1) throw std::invalid_argument(dst);
  NetlinkRequest req(type, type == RTM_NEWROUTE ? NLM_F_CREATE | NLM_F_EXCL : 0);
  auto* rtm = req.PutHeader<rtmsg>();
  rtm->rtm_family = AF_INET;
  rtm->rtm_dst_len = static_cast<unsigned char>(prefix);
  rtm->rtm_table = RT_TABLE_MAIN;
  rtm->rtm_protocol = RTPROT_STATIC;
  rtm->rtm_scope = RT_SCOPE_LINK;
  rtm->rtm_type = RTN_UNICAST;
  mnl_attr_put(req.nlh(), RTA_DST, sizeof(addr), &addr);
  mnl_attr_put_u32(req.nlh(), RTA_OIF, static_cast<uint32_t>(oif));
  rc.Request(req, std::string(type == RTM_NEWROUTE ? "add" : "delete") + " route " + dst + "/" +
                      std::to_string(prefix));
}

// Destinations ("a.b.c.d/len") of the IPv4 routes of the main table.
std::vector<std::string> MainTableRoutes4(RouteClient& rc) {
  NetlinkRequest req(RTM_GETROUTE, NLM_F_DUMP);
  req.PutHeader<rtmsg>()->rtm_family = AF_INET;
  std::vector<std::string> routes;
  rc.Request(req, "dump IPv4 routes", [&](const nlmsghdr* msg) {
    if (msg->nlmsg_type != RTM_NEWROUTE) return;
    const auto* rtm = static_cast<const rtmsg*>(mnl_nlmsg_get_payload(msg));
    uint32_t table = rtm->rtm_table;
    std::string dst = "0.0.0.0";
    ForEachAttr(msg, sizeof(rtmsg), [&](const nlattr* attr) {
      if (mnl_attr_get_type(attr) == RTA_TABLE && mnl_attr_get_payload_len(attr) == 4) {
        table = mnl_attr_get_u32(attr);
      } else if (mnl_attr_get_type(attr) == RTA_DST && mnl_attr_get_payload_len(attr) == 4) {
        char text[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, mnl_attr_get_payload(attr), text, sizeof(text));
        dst = text;
      }
    });
    if (table == RT_TABLE_MAIN) routes.push_back(dst + "/" + std::to_string(rtm->rtm_dst_len));
  });
  return routes;
}

// ---------------------------------------------------------------------------------------------
// nf_tables over NETLINK_NETFILTER, one change per batch, IPv4 family only.

class NftClient {
 public:
  explicit NftClient(int netns_fd) : nl_(nullptr, mnl_socket_close) {
    RunInNetns(netns_fd, [&] {
      nl_.reset(mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC));
      if (!nl_) throw SystemError("socket(AF_NETLINK, NETLINK_NETFILTER)", errno);
    });
    if (mnl_socket_bind(nl_.get(), 0, MNL_SOCKET_AUTOPID) < 0)
      throw SystemError("bind(NETLINK_NETFILTER)", errno);
    timeval timeout{10, 0};  // a kernel that never answers fails the case instead of hanging
    CheckSyscall(setsockopt(mnl_socket_get_fd(nl_.get()), SOL_SOCKET, SO_RCVTIMEO, &timeout,
                            sizeof(timeout)),
                 "setsockopt(SO_RCVTIMEO)");
  }

  void AddTable(const std::string& table) {
    Change(NFT_MSG_NEWTABLE, NLM_F_CREATE | NLM_F_EXCL, "add table " + table,
           [&](nlmsghdr* nlh) { mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, table.c_str()); });
  }
  void DeleteTable(const std::string& table) {
    Change(NFT_MSG_DELTABLE, 0, "delete table " + table,
           [&](nlmsghdr* nlh) { mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, table.c_str()); });
  }
  // A base chain of type filter on the IPv4 LOCAL_OUT hook, policy accept.
  void AddOutputChain(const std::string& table, const std::string& chain) {
    Change(NFT_MSG_NEWCHAIN, NLM_F_CREATE | NLM_F_EXCL, "add chain " + chain, [&](nlmsghdr* nlh) {
      mnl_attr_put_strz(nlh, NFTA_CHAIN_TABLE, table.c_str());
      mnl_attr_put_strz(nlh, NFTA_CHAIN_NAME, chain.c_str());
      nlattr* hook = mnl_attr_nest_start(nlh, NFTA_CHAIN_HOOK);
      mnl_attr_put_u32(nlh, NFTA_HOOK_HOOKNUM, htonl(NF_INET_LOCAL_OUT));
      mnl_attr_put_u32(nlh, NFTA_HOOK_PRIORITY, htonl(0));
      mnl_attr_nest_end(nlh, hook);
      mnl_attr_put_strz(nlh, NFTA_CHAIN_TYPE, "filter");
      mnl_attr_put_u32(nlh, NFTA_CHAIN_POLICY, htonl(NF_ACCEPT));
    });
  }
  // The rule "drop" (one immediate verdict expression) appended to the chain.
  void AddDropRule(const std::string& table, const std::string& chain) {
    Change(NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND, "add rule drop", [&](nlmsghdr* nlh) {
      mnl_attr_put_strz(nlh, NFTA_RULE_TABLE, table.c_str());
      mnl_attr_put_strz(nlh, NFTA_RULE_CHAIN, chain.c_str());
      nlattr* exprs = mnl_attr_nest_start(nlh, NFTA_RULE_EXPRESSIONS);
      nlattr* elem = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
      mnl_attr_put_strz(nlh, NFTA_EXPR_NAME, "immediate");
      nlattr* data = mnl_attr_nest_start(nlh, NFTA_EXPR_DATA);
      mnl_attr_put_u32(nlh, NFTA_IMMEDIATE_DREG, htonl(NFT_REG_VERDICT));
      nlattr* imm = mnl_attr_nest_start(nlh, NFTA_IMMEDIATE_DATA);
      nlattr* verdict = mnl_attr_nest_start(nlh, NFTA_DATA_VERDICT);
      mnl_attr_put_u32(nlh, NFTA_VERDICT_CODE, htonl(NF_DROP));
      mnl_attr_nest_end(nlh, verdict);
      mnl_attr_nest_end(nlh, imm);
      mnl_attr_nest_end(nlh, data);
      mnl_attr_nest_end(nlh, elem);
      mnl_attr_nest_end(nlh, exprs);
    });
  }

  // Names of the IPv4 tables of this socket's netns.
  std::vector<std::string> ListTables() {
    std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
    nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
    nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETTABLE;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    nlh->nlmsg_seq = ++seq_;
    PutNfgen(nlh, NFPROTO_IPV4, 0);
    Send(nlh, nlh->nlmsg_len, "dump tables");
    std::vector<std::string> tables;
    Receive(nlh->nlmsg_seq, "dump tables", [&](const nlmsghdr* msg) {
      if ((msg->nlmsg_type & 0xff) != NFT_MSG_NEWTABLE) return;
      ForEachAttr(msg, sizeof(nfgenmsg), [&](const nlattr* attr) {
        if (mnl_attr_get_type(attr) == NFTA_TABLE_NAME) tables.push_back(mnl_attr_get_str(attr));
      });
    });
    return tables;
  }

 private:
  static void PutNfgen(nlmsghdr* nlh, uint8_t family, uint16_t res_id) {
    auto* gen = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
    gen->nfgen_family = family;
    gen->version = NFNETLINK_V0;
    gen->res_id = htons(res_id);
  }

  void Send(const void* data, size_t len, const std::string& op) {
    if (mnl_socket_sendto(nl_.get(), data, len) < 0) throw SystemError(op + ": sendto", errno);
  }

  // Reads until the ACK/error or NLMSG_DONE of `seq`; other messages go to on_reply.
  void Receive(uint32_t seq, const std::string& op,
               const std::function<void(const nlmsghdr*)>& on_reply) {
    std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
    for (;;) {
      ssize_t got = mnl_socket_recvfrom(nl_.get(), buf.data(), buf.size());
      if (got < 0) throw SystemError(op + ": recv(NETLINK_NETFILTER)", errno);
      int left = static_cast<int>(got);
      for (auto* msg = reinterpret_cast<const nlmsghdr*>(buf.data()); mnl_nlmsg_ok(msg, left);
           msg = mnl_nlmsg_next(msg, &left)) {
        if (msg->nlmsg_type == NLMSG_ERROR) {
          const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(msg));
          // A batch error may carry the sequence number of the batch header instead.
          if (err->error != 0) throw NetlinkError(op, -err->error, "");
          if (msg->nlmsg_seq == seq) return;
          continue;
        }
        if (msg->nlmsg_seq != seq) continue;
        if (msg->nlmsg_type == NLMSG_DONE) return;
        if (on_reply) on_reply(msg);
      }
    }
  }

  // BATCH_BEGIN, one nf_tables message with NLM_F_ACK, BATCH_END; waits for its ACK.
  void Change(uint16_t type, uint16_t flags, const std::string& op,
              const std::function<void(nlmsghdr*)>& fill) {
    std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
    mnl_nlmsg_batch* batch = mnl_nlmsg_batch_start(buf.data(), buf.size());
    auto put = [&](uint16_t msg_type, uint16_t msg_flags, uint8_t family, uint16_t res_id) {
      nlmsghdr* nlh = mnl_nlmsg_put_header(mnl_nlmsg_batch_current(batch));
      nlh->nlmsg_type = msg_type;
      nlh->nlmsg_flags = NLM_F_REQUEST | msg_flags;
      nlh->nlmsg_seq = ++seq_;
      PutNfgen(nlh, family, res_id);
      return nlh;
    };
    put(NFNL_MSG_BATCH_BEGIN, 0, AF_UNSPEC, NFNL_SUBSYS_NFTABLES);
    mnl_nlmsg_batch_next(batch);
    nlmsghdr* msg = put(static_cast<uint16_t>((NFNL_SUBSYS_NFTABLES << 8) | type),
                        flags | NLM_F_ACK, NFPROTO_IPV4, 0);
    fill(msg);
    const uint32_t seq = msg->nlmsg_seq;
    mnl_nlmsg_batch_next(batch);
    put(NFNL_MSG_BATCH_END, 0, AF_UNSPEC, NFNL_SUBSYS_NFTABLES);
    mnl_nlmsg_batch_next(batch);
    Send(mnl_nlmsg_batch_head(batch), mnl_nlmsg_batch_size(batch), op);
    mnl_nlmsg_batch_stop(batch);
    Receive(seq, op, {});
  }

  MnlSocketPtr nl_;
  uint32_t seq_ = 0;
};

// Loopback delivery normally completes within the sending syscall, but may be deferred to
// ksoftirqd under load: readiness is awaited with a deadline, never assumed.
void WaitReadable(int fd, std::chrono::milliseconds deadline) {
  pollfd pfd{fd, POLLIN, 0};
  while (poll(&pfd, 1, static_cast<int>(deadline.count())) < 0 && errno == EINTR) {
  }
}

// Why nf_tables cannot be used in netns_fd (a dump of its tables fails), or nullopt.
std::optional<std::string> NfTablesUnusable(int netns_fd) {
  try {
    NftClient(netns_fd).ListTables();
    return std::nullopt;
  } catch (const SystemError& e) {
    return std::string("nf_tables unusable here (kernel config says it is built): ") + e.what();
  }
}

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

// ---------------------------------------------------------------------------------------------
// Port numbers

NETNS_TEST(Sockets, SamePortBindsInTwoNetns, kPortClause) {
  FileDescriptor a = CreateNetns(), b = CreateNetns();
  for (int type : {SOCK_STREAM, SOCK_DGRAM}) {
    SCOPED_TRACE(type == SOCK_STREAM ? "TCP" : "UDP");
    FileDescriptor in_a = SocketIn(a.get(), AF_INET, type);
    Address any = Inet4("0.0.0.0", 0);
    ASSERT_THAT(bind(in_a.get(), any.get(), any.len), SyscallSucceeds());
    const uint16_t port = BoundPort(in_a.get());
    Address same = Inet4("0.0.0.0", port);

    FileDescriptor again_in_a = SocketIn(a.get(), AF_INET, type);
    EXPECT_THAT(bind(again_in_a.get(), same.get(), same.len), SyscallFailsWithErrno(EADDRINUSE))
        << "control: port " << port << " is taken in its own netns";
    FileDescriptor in_b = SocketIn(b.get(), AF_INET, type);
    EXPECT_THAT(bind(in_b.get(), same.get(), same.len), SyscallSucceeds())
        << "port " << port << " bound in A must be free in B";
    EXPECT_EQ(BoundPort(in_b.get()), port);
  }
}

NETNS_TEST(Sockets, LoopbackConnectReachesOwnNetnsListener, kPortClause) {
  FileDescriptor a = CreateNetns(), b = CreateNetns(), c = CreateNetns();
  for (int fd : {a.get(), b.get(), c.get()}) LoopbackUp(fd);
  FileDescriptor listen_a = SocketIn(a.get(), AF_INET, SOCK_STREAM | SOCK_NONBLOCK);
  Address any = Inet4("127.0.0.1", 0);
  ASSERT_THAT(bind(listen_a.get(), any.get(), any.len), SyscallSucceeds());
  const uint16_t port = BoundPort(listen_a.get());
  Address target = Inet4("127.0.0.1", port);
  FileDescriptor listen_b = SocketIn(b.get(), AF_INET, SOCK_STREAM | SOCK_NONBLOCK);
  ASSERT_THAT(bind(listen_b.get(), target.get(), target.len), SyscallSucceeds());
  ASSERT_THAT(listen(listen_a.get(), 4), SyscallSucceeds());
  ASSERT_THAT(listen(listen_b.get(), 4), SyscallSucceeds());

  FileDescriptor client_b = SocketIn(b.get(), AF_INET, SOCK_STREAM);
  EXPECT_THAT(connect(client_b.get(), target.get(), target.len), SyscallSucceeds());
  WaitReadable(listen_b.get(), std::chrono::milliseconds(5000));
  FileDescriptor accepted_b(accept4(listen_b.get(), nullptr, nullptr, SOCK_CLOEXEC));
  EXPECT_TRUE(accepted_b.valid()) << "B's listener must get B's connection: " << ErrnoName(errno);
  EXPECT_THAT(accept4(listen_a.get(), nullptr, nullptr, SOCK_CLOEXEC),
              SyscallFailsWithErrno(EAGAIN))
      << "A's listener on the same port must see nothing from B";

  FileDescriptor client_c = SocketIn(c.get(), AF_INET, SOCK_STREAM);
  EXPECT_THAT(connect(client_c.get(), target.get(), target.len),
              SyscallFailsWithErrno(ECONNREFUSED))
      << "nothing listens on 127.0.0.1:" << port << " in C";
}

// ---------------------------------------------------------------------------------------------
// IPv4/IPv6 stacks, routes, firewall rules

NETNS_TEST(StackIsolation, AddressesExistOnlyInTheirNetns, "netns7.isolation.ip-protocol-stacks",
           .kconfigs = {"CONFIG_VETH"}) {
  FileDescriptor a = CreateNetns(), b = CreateNetns();
  // Until a netns has an IPv4 local table (made by its first local address, e.g. lo up), IPv4
  // bind() takes any address (inet_addr_type finds no table and answers RTN_BROADCAST): B gets
  // lo up so that "not local in B" can be told apart from "B has no table yet".
  LoopbackUp(b.get());
  const auto no_v6 = Ipv6Unusable(a.get());
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

// ---------------------------------------------------------------------------------------------
// A socket's netns is fixed at creation (B5.4) and SIOCGSKNS reports it (B4.5)

NETNS_TEST(Sockets, KeepsNetnsAcrossUnshare, kKeepsClause) {
  // Gate: SO_NETNS_COOKIE, e8b9eab99232 "net: retrieve netns cookie via getsocketopt" (v5.14).
  if (!HasSoNetnsCookie())
    GTEST_SKIP() << "kernel lacks getsockopt(SO_NETNS_COOKIE) (ENOPROTOOPT when probed)";
  std::optional<uint64_t> before, after, fresh_socket, fresh_netns_id;
  NetnsIdentity via_siocgskns, original;
  RunInNetns(OpenCurrentNetns().get(), [&] {
    original = CurrentNetnsIdentity();
    FileDescriptor sock(CheckSyscall(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), "socket"));
    before = SocketNetnsCookie(sock.get());
    CheckSyscall(unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)");
    after = SocketNetnsCookie(sock.get());
    FileDescriptor old_ns(CheckSyscall(ioctl(sock.get(), SIOCGSKNS), "SIOCGSKNS"));
    via_siocgskns = IdentifyNetns(old_ns.get());
    FileDescriptor made_after(
        CheckSyscall(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), "socket after unshare"));
    fresh_socket = SocketNetnsCookie(made_after.get());
    fresh_netns_id = NetnsId(OpenCurrentNetns().get());
  });
  ASSERT_TRUE(before && after && fresh_socket);
  EXPECT_EQ(*after, *before) << "unshare must not move an existing socket";
  EXPECT_NE(*fresh_socket, *before) << "control: a socket made after unshare is in the new netns";
  // Gate: NS_GET_ID, pull namespace-6.18-rc1 (v6.18), which makes the cookie the netns's id.
  if (HasNsGetId()) {
    ASSERT_TRUE(fresh_netns_id.has_value()) << "NS_GET_ID failed on the new netns";
    EXPECT_EQ(*fresh_socket, *fresh_netns_id) << "SO_NETNS_COOKIE and NS_GET_ID must agree";
  }
  EXPECT_EQ(via_siocgskns, original) << "SIOCGSKNS must still name the creation netns";
}

NETNS_TEST(Sockets, KeepsNetnsAcrossSetns, kKeepsClause, .kconfigs = {"CONFIG_VETH"}) {
  FileDescriptor a = CreateNetns(), b = CreateNetns();
  {
    RouteClient rc(a.get());
    rc.AddAddress4(UpVethPair(rc, "va", "vb"), "192.0.2.1/24");
  }
  LoopbackUp(b.get());  // B's IPv4 local table, without which any address binds (see above)
  FileDescriptor made_in_a = SocketIn(a.get(), AF_INET, SOCK_DGRAM);
  const auto a_cookie = SocketNetnsCookie(made_in_a.get());
  Address local_to_a = Inet4("192.0.2.1", 0);
  long bind_old = 0, bind_new = 0;
  int err_new = 0;
  std::optional<uint64_t> cookie_in_b;
  NetnsIdentity reported;
  RunInNetns(b.get(), [&] {
    // This thread now lives in B; the socket it uses was made in A.
    cookie_in_b = SocketNetnsCookie(made_in_a.get());
    reported = IdentifySocketNetns(made_in_a.get());
    bind_old = bind(made_in_a.get(), local_to_a.get(), local_to_a.len);
    FileDescriptor made_in_b(CheckSyscall(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), "socket"));
    bind_new = bind(made_in_b.get(), local_to_a.get(), local_to_a.len);
    err_new = errno;
  });
  EXPECT_EQ(reported, IdentifyNetns(a.get()));
  // Gate: SO_NETNS_COOKIE, e8b9eab99232 (v5.14); SIOCGSKNS above (v4.9) needs none.
  if (HasSoNetnsCookie()) {
    ASSERT_TRUE(a_cookie.has_value()) << "SO_NETNS_COOKIE failed on a socket made in A";
    EXPECT_EQ(cookie_in_b, a_cookie);
  }
  EXPECT_THAT((SyscallResult{bind_old, 0}), SyscallSucceeds())
      << "the socket made in A binds A's address whatever netns its user is in";
  EXPECT_THAT((SyscallResult{bind_new, err_new}), SyscallFailsWithErrno(EADDRNOTAVAIL))
      << "control: a socket the same thread makes in B does not see A's address";
}

NETNS_TEST(Sockets, SiocgsknsReturnsSocketNetns, "sem.B4.5.siocgskns-returns-socket-netns") {
  FileDescriptor a = CreateNetns(), b = CreateNetns();
  const NetnsIdentity id_a = IdentifyNetns(a.get()), id_b = IdentifyNetns(b.get());
  ASSERT_FALSE(id_a == id_b);
  struct Kind {
    const char* name;
    int domain, type;
  };
  for (const Kind& kind :
       {Kind{"udp", AF_INET, SOCK_DGRAM}, Kind{"tcp", AF_INET, SOCK_STREAM},
        Kind{"unix", AF_UNIX, SOCK_STREAM}, Kind{"netlink", AF_NETLINK, SOCK_RAW}}) {
    SCOPED_TRACE(kind.name);
    FileDescriptor in_a = SocketIn(a.get(), kind.domain, kind.type);
    FileDescriptor in_b = SocketIn(b.get(), kind.domain, kind.type);
    // Asked from a thread in B about a socket of A: the socket's netns counts, not the caller's.
    FileDescriptor ns_of_a, ns_of_b;
    RunInNetns(b.get(), [&] {
      ns_of_a.reset(ioctl(in_a.get(), SIOCGSKNS));
      ns_of_b.reset(ioctl(in_b.get(), SIOCGSKNS));
    });
    ASSERT_TRUE(ns_of_a.valid() && ns_of_b.valid()) << "SIOCGSKNS failed";
    EXPECT_EQ(IdentifyNetns(ns_of_a.get()), id_a);
    EXPECT_EQ(IdentifyNetns(ns_of_b.get()), id_b) << "control: a socket of B gives B";
    EXPECT_TRUE(fcntl(ns_of_a.get(), F_GETFD) & FD_CLOEXEC) << "the fd must be O_CLOEXEC";
    // The fd is a real netns fd: it can be entered.
    NetnsIdentity entered;
    RunInNetns(ns_of_a.get(), [&] { entered = CurrentNetnsIdentity(); });
    EXPECT_EQ(entered, id_a);
  }
}

NETNS_TEST(Sockets, SiocgsknsNeedsCapNetAdmin, "sem.B4.5.siocgskns-needs-cap-net-admin") {
  FileDescriptor a = CreateNetns();
  FileDescriptor in_a = SocketIn(a.get(), AF_INET, SOCK_DGRAM);
  {
    FileDescriptor ns(ioctl(in_a.get(), SIOCGSKNS));
    EXPECT_TRUE(ns.valid()) << "control: root with CAP_NET_ADMIN over A: " << ErrnoName(errno);
  }

  auto no_caps = RunInChild({.drop_all_caps = true}, [&](ChildChannel& ch) {
    ch.Record("siocgskns", ioctl(in_a.get(), SIOCGSKNS));
  });
  ASSERT_TRUE(no_caps.Ok()) << no_caps.Describe();
  EXPECT_THAT(no_caps.Call("siocgskns"), SyscallFailsWithErrno(EPERM)) << "uid 0 without caps";

  // Root of a child user namespace: no CAP_NET_ADMIN over A (owned by the initial user
  // namespace), all of it over a netns its own user namespace owns.
  auto userns = RunInChild({.uid = kNobodyUid, .new_user_ns = true}, [&](ChildChannel& ch) {
    ch.Record("outer", ioctl(in_a.get(), SIOCGSKNS));
    ch.Record("unshare", unshare(CLONE_NEWNET));
    FileDescriptor own(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    ch.Record("own", ioctl(own.get(), SIOCGSKNS));
    ch.Record("outer-after-unshare", ioctl(in_a.get(), SIOCGSKNS));
  });
  ASSERT_TRUE(userns.Ok()) << userns.Describe();
  EXPECT_THAT(userns.Call("outer"), SyscallFailsWithErrno(EPERM));
  ASSERT_THAT(userns.Call("unshare"), SyscallSucceeds());
  EXPECT_THAT(userns.Call("own"), SyscallSucceeds()) << "its own netns is allowed";
  EXPECT_THAT(userns.Call("outer-after-unshare"), SyscallFailsWithErrno(EPERM));
}

}  // namespace
}  // namespace conform
