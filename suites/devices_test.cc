// Network devices across network namespaces.
//
// network_namespaces(7) and clone(2) CLONE_NEWNET: namespaces isolate network devices; "A physical
// network device can live in exactly one network namespace"; "A virtual network (veth(4)) device
// pair provides a pipe-like abstraction that can be used to create tunnels between network
// namespaces, and can be used to create a bridge to a physical network device in another
// namespace". SEMANTICS.md §1 (which devices are refunded and which deleted when their netns dies,
// which cannot move, how a move fails, stacked devices) and §2 (the veth pair across namespaces).
//
// Everything here lives in namespaces the case creates, with addresses from the documentation
// ranges (192.0.2.0/24, 198.51.100.0/24) only inside them. The cases that need a device the kernel
// refunds take it from fixtures/refund_device.h (a NIC lent with --spare-nic, or the VM's) and SKIP
// without one; the host's own devices are never touched.
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
#include "fixtures/child.h"
#include "fixtures/netlink.h"
#include "fixtures/netns.h"
#include "fixtures/probe.h"
#include "fixtures/refund_device.h"
#include "fixtures/stale_handles.h"
#include "fixtures/syscall_matchers.h"

namespace conform {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

constexpr auto kTeardownDeadline = seconds(10);
// IFF_LOWER_UP (carrier) from <linux/if.h>, which clashes with glibc's <net/if.h>.
constexpr unsigned kIffLowerUp = 1u << 16;
constexpr auto kTrafficDeadline = seconds(10);
// How often a datagram or frame is sent again while waiting for it to arrive: the first ones may be
// dropped while a freshly raised link is still being activated (linkwatch runs asynchronously).
constexpr auto kResendInterval = milliseconds(100);

// ---- netlink outcomes and raw requests ----

struct NlOutcome {
  int err = 0;
  std::string extack;
};

template <typename Fn>
NlOutcome TryNetlink(Fn&& fn) {
  try {
    fn();
    return {};
  } catch (const NetlinkError& e) {
    return {e.err(), e.extack()};
  }
}

// For the errno-aware matchers: "failed with EINVAL" / "succeeded".
SyscallResult AsCall(const NlOutcome& outcome) {
  return outcome.err ? SyscallResult{-1, outcome.err} : SyscallResult{0, 0};
}

// For a forked child, which records results instead of asserting.
void RecordOutcome(ChildChannel& ch, const std::string& name, const NlOutcome& outcome) {
  errno = outcome.err;
  ch.Record(name, outcome.err ? -1 : 0);
}

// The kernel explains a refused device move in an extended ACK since 12b6f7069ba5 "net: plumb
// extack in __dev_change_net_namespace()" (v6.15; Debian's 6.12.118 has it too, without
// IFLA_NETNS_IMMUTABLE of the same series). Where the probe finds the feature, the text must be
// the documented one (SEMANTICS.md B1.3/B1.4), an empty one included; elsewhere only the errno is
// checked, and the case says so in its log.
void ExpectMoveExtack(const NlOutcome& outcome, const std::string& documented) {
  if (HasDeviceMoveExtack()) {
    EXPECT_EQ(outcome.extack, documented);
  } else {
    ::testing::Test::RecordProperty("move_extack", "not checked: none on a refused move (probed)");
    std::fprintf(stderr,
                 "note: extack \"%s\" not checked: this kernel gives none on a refused "
                 "move (probed; 12b6f7069ba5, v6.15)\n",
                 documented.c_str());
  }
}

std::string FormatMac(const nlattr* attr) {
  const auto* bytes = static_cast<const unsigned char*>(mnl_attr_get_payload(attr));
  std::string text;
  for (uint16_t i = 0; i < mnl_attr_get_payload_len(attr); ++i) {
    char part[4];
    std::snprintf(part, sizeof(part), i ? ":%02x" : "%02x", bytes[i]);
    text += part;
  }
  return text;
}

// What LinkInfo does not carry: hardware address, master, alternative names.
struct LinkDetails {
  int ifindex = 0;
  std::string name;
  std::string mac;
  unsigned flags = 0;
  std::optional<int> master;
  std::vector<std::string> altnames;
};

LinkDetails ParseDetails(const nlmsghdr* nlh) {
  const auto* ifi = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(nlh));
  LinkDetails link;
  link.ifindex = ifi->ifi_index;
  link.flags = ifi->ifi_flags;
  ForEachAttr(nlh, sizeof(ifinfomsg), [&](const nlattr* attr) {
    switch (mnl_attr_get_type(attr)) {
      case IFLA_IFNAME:
        link.name = mnl_attr_get_str(attr);
        break;
      case IFLA_ADDRESS:
        link.mac = FormatMac(attr);
        break;
      case IFLA_MASTER:
        link.master = static_cast<int>(mnl_attr_get_u32(attr));
        break;
      case IFLA_PROP_LIST:
        ForEachNested(attr, [&](const nlattr* prop) {
          if (mnl_attr_get_type(prop) == IFLA_ALT_IFNAME)
            link.altnames.emplace_back(mnl_attr_get_str(prop));
        });
        break;
      default:
        break;
    }
  });
  return link;
}

std::optional<LinkDetails> GetDetails(RouteClient& client, int ifindex) {
  NetlinkRequest req(RTM_GETLINK, 0);
  req.PutHeader<ifinfomsg>()->ifi_index = ifindex;
  std::optional<LinkDetails> link;
  NlOutcome outcome = TryNetlink([&] {
    client.Request(req, "get link #" + std::to_string(ifindex), [&](const nlmsghdr* msg) {
      if (msg->nlmsg_type == RTM_NEWLINK) link = ParseDetails(msg);
    });
  });
  if (outcome.err == ENODEV) return std::nullopt;
  if (outcome.err) throw NetlinkError("get link", outcome.err, outcome.extack);
  return link;
}

std::vector<LinkDetails> DumpDetails(RouteClient& client) {
  for (int attempt = 1;; ++attempt) {
    NetlinkRequest req(RTM_GETLINK, NLM_F_DUMP);
    req.PutHeader<ifinfomsg>()->ifi_family = AF_UNSPEC;
    std::vector<LinkDetails> links;
    NlOutcome outcome = TryNetlink([&] {
      client.Request(req, "dump links", [&](const nlmsghdr* msg) {
        if (msg->nlmsg_type == RTM_NEWLINK) links.push_back(ParseDetails(msg));
      });
    });
    if (!outcome.err) return links;
    // EINTR: the dump raced with a change; the kernel's advice is to dump again.
    if (outcome.err != EINTR || attempt == 5)
      throw NetlinkError("dump links", outcome.err, outcome.extack);
  }
}

std::vector<std::string> LinkNames(int netns_fd) {
  std::vector<std::string> names;
  for (const auto& link : RouteClient(netns_fd).DumpLinks()) names.push_back(link.name);
  return names;
}

// A link of a kind that needs no attributes (bridge, ifb), optionally at a chosen ifindex.
void CreateSimpleLink(RouteClient& client, const std::string& kind, const std::string& name) {
  NetlinkRequest req(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  req.PutHeader<ifinfomsg>();
  mnl_attr_put_strz(req.nlh(), IFLA_IFNAME, name.c_str());
  nlattr* linkinfo = mnl_attr_nest_start(req.nlh(), IFLA_LINKINFO);
  mnl_attr_put_strz(req.nlh(), IFLA_INFO_KIND, kind.c_str());
  mnl_attr_nest_end(req.nlh(), linkinfo);
  client.Request(req, "create " + kind + " " + name);
}

// A veth pair in the socket's netns with both ifindexes chosen by the caller.
void CreateVethAt(RouteClient& client, const std::string& name, int ifindex,
                  const std::string& peer_name, int peer_ifindex) {
  NetlinkRequest req(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  req.PutHeader<ifinfomsg>()->ifi_index = ifindex;
  nlmsghdr* nlh = req.nlh();
  mnl_attr_put_strz(nlh, IFLA_IFNAME, name.c_str());
  nlattr* linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
  mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
  nlattr* data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
  nlattr* peer = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
  static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)))->ifi_index =
      peer_ifindex;
  mnl_attr_put_strz(nlh, IFLA_IFNAME, peer_name.c_str());
  mnl_attr_nest_end(nlh, peer);
  mnl_attr_nest_end(nlh, data);
  mnl_attr_nest_end(nlh, linkinfo);
  client.Request(req, "create veth " + name + "@" + std::to_string(ifindex));
}

void SetMaster(RouteClient& client, int ifindex, int master_ifindex) {
  NetlinkRequest req(RTM_NEWLINK, 0);
  req.PutHeader<ifinfomsg>()->ifi_index = ifindex;
  mnl_attr_put_u32(req.nlh(), IFLA_MASTER, static_cast<uint32_t>(master_ifindex));
  client.Request(req, "enslave #" + std::to_string(ifindex));
}

// No IPv6 link-local address, hence no DAD, router or MLD traffic out of a lent NIC.
void SetAddrGenModeNone(RouteClient& client, int ifindex) {
  NetlinkRequest req(RTM_NEWLINK, 0);
  req.PutHeader<ifinfomsg>()->ifi_index = ifindex;
  nlattr* af_spec = mnl_attr_nest_start(req.nlh(), IFLA_AF_SPEC);
  nlattr* inet6 = mnl_attr_nest_start(req.nlh(), AF_INET6);
  mnl_attr_put_u8(req.nlh(), IFLA_INET6_ADDR_GEN_MODE, IN6_ADDR_GEN_MODE_NONE);
  mnl_attr_nest_end(req.nlh(), inet6);
  mnl_attr_nest_end(req.nlh(), af_spec);
  client.Request(req, "addrgenmode none #" + std::to_string(ifindex));
}

void ChangeAltname(RouteClient& client, uint16_t type, int ifindex, const std::string& altname) {
  NetlinkRequest req(type, type == RTM_NEWLINKPROP ? NLM_F_CREATE | NLM_F_EXCL | NLM_F_APPEND : 0);
  req.PutHeader<ifinfomsg>()->ifi_index = ifindex;
  nlattr* list = mnl_attr_nest_start(req.nlh(), IFLA_PROP_LIST);
  mnl_attr_put_strz(req.nlh(), IFLA_ALT_IFNAME, altname.c_str());
  mnl_attr_nest_end(req.nlh(), list);
  client.Request(req, std::string(type == RTM_NEWLINKPROP ? "add" : "delete") + " altname " +
                          altname + " of #" + std::to_string(ifindex));
}

// One RTM_NEWLINK move request with any combination of target selectors (SEMANTICS.md B1.4).
struct MoveSpec {
  std::optional<int> fd;
  std::optional<pid_t> pid;
  std::optional<int> target_nsid;
  std::optional<int> new_ifindex;
  std::optional<std::string> new_name;
};

NlOutcome TryMove(RouteClient& client, int ifindex, const MoveSpec& spec) {
  NetlinkRequest req(RTM_NEWLINK, 0);
  req.PutHeader<ifinfomsg>()->ifi_index = ifindex;
  nlmsghdr* nlh = req.nlh();
  if (spec.fd) mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, static_cast<uint32_t>(*spec.fd));
  if (spec.pid) mnl_attr_put_u32(nlh, IFLA_NET_NS_PID, static_cast<uint32_t>(*spec.pid));
  if (spec.target_nsid)
    mnl_attr_put_u32(nlh, IFLA_TARGET_NETNSID, static_cast<uint32_t>(*spec.target_nsid));
  if (spec.new_ifindex)
    mnl_attr_put_u32(nlh, IFLA_NEW_IFINDEX, static_cast<uint32_t>(*spec.new_ifindex));
  if (spec.new_name) mnl_attr_put_strz(nlh, IFLA_IFNAME, spec.new_name->c_str());
  return TryNetlink([&] { client.Request(req, "move link #" + std::to_string(ifindex)); });
}

int IfindexOf(int netns_fd, const std::string& name) {
  auto link = RouteClient(netns_fd).GetLink(name);
  if (!link) throw std::runtime_error(name + " not found in netns fd " + std::to_string(netns_fd));
  return link->ifindex;
}

// ---- sockets in namespaces ----

FileDescriptor SocketIn(int netns_fd, int domain, int type, int protocol = 0) {
  FileDescriptor sock;
  int err = 0;
  RunInNetns(netns_fd, [&] {
    sock.reset(socket(domain, type | SOCK_CLOEXEC, protocol));
    err = errno;
  });
  if (!sock) throw SystemError("socket in netns", err);
  return sock;
}

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

bool WaitReadable(int fd, milliseconds timeout) {
  pollfd pfd{fd, POLLIN, 0};
  for (;;) {
    int ready = poll(&pfd, 1, static_cast<int>(timeout.count()));
    if (ready >= 0) return ready > 0;
    if (errno != EINTR) throw SystemError("poll", errno);
  }
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

// Two namespaces joined by veth a<->b, each end with its address and UP.
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
    in_a.SetUp(a_ifindex, true);
    in_b.SetUp(b_ifindex, true);
  }
};

// ---- lent refundable devices ----

// The lent device for one case. On every exit path (declare it before the namespaces of the case,
// so that they are gone first) it waits for the device to be back in the initial netns and
// restores its name and altnames, then releases the turn.
class LentDevice {
 public:
  LentDevice()
      : device_(RefundableDevice::Acquire()),
        init_(device_.init_netns()),
        watcher_(device_.init_netns(), {RTNLGRP_LINK}) {
    auto link = GetDetails(init_, IfindexOf(device_.init_netns(), device_.name()));
    if (!link) throw std::runtime_error(device_.name() + " vanished from the initial netns");
    original_ = *link;
  }
  LentDevice(const LentDevice&) = delete;
  LentDevice& operator=(const LentDevice&) = delete;

  ~LentDevice() {
    try {
      // Longer than a case's own waits: a device still draining a stalled transmit queue may
      // take a while, and the next case needs it back.
      if (!FindInInit()) WaitBack(seconds(30));
      auto now = FindInInit();
      if (!now) {
        std::fprintf(stderr, "warning: lent device %s is not back in the initial netns\n",
                     original_.name.c_str());
        return;
      }
      if (now->name != original_.name) init_.Rename(now->ifindex, original_.name);
      for (const auto& alt : now->altnames) {
        if (std::find(original_.altnames.begin(), original_.altnames.end(), alt) ==
            original_.altnames.end())
          ChangeAltname(init_, RTM_DELLINKPROP, now->ifindex, alt);
      }
      if (now->flags & IFF_UP) init_.SetUp(now->ifindex, false);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "warning: restoring lent device %s: %s\n", original_.name.c_str(),
                   e.what());
    }
  }

  const std::string& name() const { return original_.name; }
  int ifindex() const { return original_.ifindex; }
  const std::string& mac() const { return original_.mac; }
  int init_netns() const { return device_.init_netns(); }
  RouteClient& init() { return init_; }
  // Subscribed to RTNLGRP_LINK of the initial netns since the case started.
  EventWatcher& watcher() { return watcher_; }

  // Whether an RTM_NEWLINK in the initial netns is this device arriving. Its name and ifindex may
  // both have changed (SEMANTICS.md B1.2: it keeps the ifindex it had in the dying netns if that
  // is free, its name unless taken); its hardware address has not.
  bool IsArrival(const LinkEvent& e) {
    if (e.type != RTM_NEWLINK) return false;
    if (e.link.name == original_.name) return true;
    auto link = GetDetails(init_, e.link.ifindex);
    return link && link->mac == original_.mac;
  }
  // The RTM_NEWLINK by which the device arrives back in the initial netns.
  std::optional<LinkEvent> WaitBack(milliseconds deadline = kTeardownDeadline) {
    return watcher_.WaitLink([&](const LinkEvent& e) { return IsArrival(e); }, deadline);
  }
  // The device in the initial netns, found by its hardware address.
  std::optional<LinkDetails> FindInInit() {
    for (auto& link : DumpDetails(init_))
      if (link.mac == original_.mac) return link;
    return std::nullopt;
  }

 private:
  DeviceTurn turn_;
  RefundableDevice device_;
  RouteClient init_;
  EventWatcher watcher_;
  LinkDetails original_;
};

// Where a device with this hardware address is: how many links carry it in each netns.
std::vector<int> CountByMac(const std::vector<int>& netns_fds, const std::string& mac) {
  std::vector<int> counts;
  for (int fd : netns_fds) {
    RouteClient client(fd);
    int n = 0;
    for (const auto& link : DumpDetails(client)) n += link.mac == mac;
    counts.push_back(n);
  }
  return counts;
}

// =====================================================================================
// network_namespaces(7): isolation of network devices
// =====================================================================================

constexpr const char* kIsolationClause = "netns7.isolation.network-devices";

// (suites/lifecycle_test.cc has the visibility and configuration side of this clause; this case
// adds that ifindexes, not only names, are per netns.)
NETNS_TEST(DeviceIsolation, SameNameAndIfindexInTwoNetns, kIsolationClause,
           .kconfigs = {"CONFIG_VETH"}) {
  FileDescriptor a = CreateNetns(), b = CreateNetns();
  RouteClient in_a(a.get()), in_b(b.get());
  constexpr int kIndex = 4242, kPeerIndex = 4243;
  CreateVethAt(in_a, "dup0", kIndex, "dup1", kPeerIndex);
  // Control: the same name or ifindex twice in one netns is refused.
  EXPECT_THAT(AsCall(TryNetlink([&] { CreateVethAt(in_a, "dup0", 0, "other1", 0); })),
              SyscallFailsWithErrno(EEXIST));
  EXPECT_NE(AsCall(TryNetlink([&] { CreateVethAt(in_a, "other0", kIndex, "other1", 0); })).rc, 0)
      << "a second device took ifindex " << kIndex << " in the same netns";

  ASSERT_THAT(AsCall(TryNetlink([&] { CreateVethAt(in_b, "dup0", kIndex, "dup1", kPeerIndex); })),
              SyscallSucceeds())
      << "the same names and ifindexes must be free in another netns";
  auto in_a_dup = GetDetails(in_a, kIndex), in_b_dup = GetDetails(in_b, kIndex);
  ASSERT_TRUE(in_a_dup && in_b_dup);
  EXPECT_EQ(in_a_dup->name, "dup0");
  EXPECT_EQ(in_b_dup->name, "dup0");
  EXPECT_NE(in_a_dup->mac, in_b_dup->mac) << "two devices, not one seen twice";
  in_b.SetUp(kIndex, true);
  EXPECT_TRUE(in_b.GetLink(kIndex)->IsUp());
  EXPECT_FALSE(in_a.GetLink(kIndex)->IsUp()) << "configuring B's dup0 changed A's";
}

// =====================================================================================
// "A physical network device can live in exactly one network namespace."
// =====================================================================================

NETNS_TEST(PhysicalDevice, InExactlyOneNetnsAcrossMoves, "netns7.physdev.exactly-one-netns",
           .refundable_device = true) {
  LentDevice lent;
  FileDescriptor x = CreateNetns(), y = CreateNetns();
  const std::vector<int> places = {lent.init_netns(), x.get(), y.get()};
  // Identified by its hardware address, which moves with it whatever its name or ifindex.
  ASSERT_FALSE(lent.mac().empty());
  ASSERT_EQ(CountByMac(places, lent.mac()), (std::vector<int>{1, 0, 0}));

  lent.init().MoveToNetns(lent.ifindex(), x.get());
  EXPECT_EQ(CountByMac(places, lent.mac()), (std::vector<int>{0, 1, 0})) << "after init -> X";

  const int in_x = IfindexOf(x.get(), lent.name());
  RouteClient(x.get()).MoveToNetns(in_x, y.get());
  EXPECT_EQ(CountByMac(places, lent.mac()), (std::vector<int>{0, 0, 1})) << "after X -> Y";

  x.reset();
  y.reset();
  ASSERT_TRUE(lent.WaitBack().has_value()) << lent.name() << " did not come back";
  EXPECT_EQ(CountByMac({lent.init_netns()}, lent.mac()), (std::vector<int>{1}));
}

NETNS_TEST(PhysicalDevice, MoveLeavesTheSourceNetns, "clone2.physdev.exactly-one-netns",
           .refundable_device = true) {
  LentDevice lent;
  FileDescriptor x = CreateNetns(), y = CreateNetns();
  {
    EventWatcher x_watch(x.get(), {RTNLGRP_LINK});  // its socket holds X: scoped
    lent.init().MoveToNetns(lent.ifindex(), x.get());
    // The source announces a departure, not a deletion: RTM_DELLINK carrying the new netns's id.
    auto left = lent.watcher().WaitLink(
        [&](const LinkEvent& e) { return e.type == RTM_DELLINK && e.link.name == lent.name(); },
        kTeardownDeadline);
    ASSERT_TRUE(left.has_value()) << "no RTM_DELLINK in the initial netns";
    EXPECT_TRUE(left->link.new_netnsid.has_value()) << left->link;
    EXPECT_TRUE(x_watch.WaitLinkAppeared(lent.name(), kTeardownDeadline));
  }

  // Gone from the source: a second move from there finds nothing to move.
  EXPECT_THAT(AsCall(TryMove(lent.init(), lent.ifindex(), {.fd = y.get()})),
              SyscallFailsWithErrno(ENODEV));
  EXPECT_FALSE(lent.init().GetLink(lent.name()).has_value());
  EXPECT_TRUE(RouteClient(x.get()).GetLink(lent.name()).has_value());
  EXPECT_FALSE(RouteClient(y.get()).GetLink(lent.name()).has_value());

  x.reset();  // frees X: the device returns to the initial netns, never to Y
  ASSERT_TRUE(lent.WaitBack().has_value());
  EXPECT_FALSE(RouteClient(y.get()).GetLink(lent.name()).has_value());
}

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
// veth: "... and can be used to create a bridge to a physical network device in another namespace"
// =====================================================================================

// IEEE 802 local experimental ethertype: no stack on any network accepts these frames.
constexpr uint16_t kExperimentalEthertype = 0x88B5;

// Frames seen on one device, by direction, through an AF_PACKET tap in its netns.
class PacketTap {
 public:
  PacketTap(int netns_fd, int ifindex)
      : sock_(SocketIn(netns_fd, AF_PACKET, SOCK_RAW, htons(ETH_P_ALL))) {
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = ifindex;
    CheckSyscall(bind(sock_.get(), reinterpret_cast<sockaddr*>(&sll), sizeof(sll)), "bind tap");
  }

  // Reads what is queued (waiting up to `timeout` for the first frame) and reports whether a frame
  // carrying `marker` was seen with the packet type `pkttype` (PACKET_OUTGOING: sent by the
  // device).
  bool Saw(const std::string& marker, int pkttype, milliseconds timeout) {
    bool seen = false;
    while (!seen && WaitReadable(sock_.get(), timeout)) {
      timeout = milliseconds(0);
      unsigned char frame[2048];
      sockaddr_ll from{};
      socklen_t len = sizeof(from);
      ssize_t got = recvfrom(sock_.get(), frame, sizeof(frame), MSG_DONTWAIT,
                             reinterpret_cast<sockaddr*>(&from), &len);
      if (got < 0) break;
      const size_t n = static_cast<size_t>(got);
      if (n >= ETH_HLEN + marker.size() && from.sll_pkttype == pkttype &&
          frame[12] == (kExperimentalEthertype >> 8) &&
          frame[13] == (kExperimentalEthertype & 0xff) &&
          std::memcmp(frame + ETH_HLEN, marker.data(), marker.size()) == 0)
        seen = true;
    }
    return seen;
  }

 private:
  FileDescriptor sock_;
};

// Sends experimental frames to an unknown (locally administered) unicast address, which a bridge
// floods to every other port.
class FrameSender {
 public:
  FrameSender(int netns_fd, int ifindex, const std::string& src_mac)
      : sock_(SocketIn(netns_fd, AF_PACKET, SOCK_RAW, htons(kExperimentalEthertype))),
        ifindex_(ifindex) {
    unsigned int b[6];
    if (std::sscanf(src_mac.c_str(), "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4],
                    &b[5]) != 6)
      throw std::invalid_argument("bad mac " + src_mac);
    for (int i = 0; i < 6; ++i) src_[i] = static_cast<unsigned char>(b[i]);
  }

  void Send(const std::string& marker) {
    unsigned char frame[ETH_ZLEN + 64] = {0x02, 0x00, 0x5e, 0x10, 0x00, 0x01};
    std::memcpy(frame + 6, src_, 6);
    frame[12] = kExperimentalEthertype >> 8;
    frame[13] = kExperimentalEthertype & 0xff;
    std::memcpy(frame + ETH_HLEN, marker.data(), marker.size());
    const size_t len = std::max<size_t>(ETH_ZLEN, ETH_HLEN + marker.size());
    sockaddr_ll to{};
    to.sll_family = AF_PACKET;
    to.sll_ifindex = ifindex_;
    to.sll_halen = ETH_ALEN;
    std::memcpy(to.sll_addr, frame, ETH_ALEN);
    (void)sendto(sock_.get(), frame, len, 0, reinterpret_cast<sockaddr*>(&to), sizeof(to));
  }

 private:
  FileDescriptor sock_;
  int ifindex_;
  unsigned char src_[6] = {};
};

// Sends the marker from `sender` until `tap` sees it with `pkttype`, or the deadline passes.
bool SendUntilSeen(FrameSender& sender, PacketTap& tap, const std::string& marker, int pkttype) {
  const auto deadline = std::chrono::steady_clock::now() + kTrafficDeadline;
  while (std::chrono::steady_clock::now() < deadline) {
    sender.Send(marker);
    if (tap.Saw(marker, pkttype, kResendInterval)) return true;
  }
  return false;
}

// The topology of both bridge cases: the lent physical device in N, a bridge in N, a veth pair
// with one end (vn) in N and the other (vc) in C.
struct BridgeTopology {
  FileDescriptor n = CreateNetns();
  FileDescriptor c = CreateNetns();
  int phys = 0, bridge = 0, vn = 0, vc = 0;
  std::string vc_mac;

  explicit BridgeTopology(LentDevice& lent) {
    lent.init().MoveToNetns(lent.ifindex(), n.get());
    RouteClient in_n(n.get()), in_c(c.get());
    phys = in_n.GetLink(lent.name()).value().ifindex;
    SetAddrGenModeNone(in_n, phys);
    CreateSimpleLink(in_n, "bridge", "nc-br");
    bridge = in_n.GetLink("nc-br").value().ifindex;
    in_n.CreateVeth("nc-vn", "nc-vc", c.get());
    vn = in_n.GetLink("nc-vn").value().ifindex;
    vc = in_c.GetLink("nc-vc").value().ifindex;
    vc_mac = GetDetails(in_c, vc).value().mac;
    SetMaster(in_n, phys, bridge);
    EventWatcher carrier(n.get(), {RTNLGRP_LINK});
    in_n.SetUp(bridge, true);
    in_n.SetUp(phys, true);
    in_n.SetUp(vn, true);
    in_c.SetUp(vc, true);
    // A bridge forwards only to ports with carrier; a lent NIC on an empty segment may have none.
    const bool carrier_now = in_n.GetLink(phys)->flags & kIffLowerUp;
    if (!carrier_now && !carrier
                             .WaitLink(
                                 [&](const LinkEvent& e) {
                                   return e.link.ifindex == phys && (e.link.flags & kIffLowerUp);
                                 },
                                 seconds(5))
                             .has_value()) {
      unusable =
          "the lent device has no carrier in its test netns, and a bridge forwards to no "
          "port without carrier";
      return;
    }
    // The observable is a frame leaving the physical device, so it must transmit at all: frames
    // sent on it directly must leave it. (A NIC whose transmit queue stalls after its first frame,
    // as a qemu NIC alone on a hub does, cannot show the bridge at work.)
    PacketTap tap(n.get(), phys);
    FrameSender direct(n.get(), phys, GetDetails(in_n, phys).value().mac);
    if (!SendUntilSeen(direct, tap, "direct 1", PACKET_OUTGOING) ||
        !SendUntilSeen(direct, tap, "direct 2", PACKET_OUTGOING))
      unusable =
          "the lent device does not transmit: a frame sent on it directly in its test netns "
          "never left it (its transmit queue stalls), so nothing can be seen leaving it "
          "through the bridge";
  }

  // Why the lent device cannot show the bridge at work, or "" when it can.
  std::string unusable;
};

// For failure messages: every link of a netns with its flags and operstate, and for bridge
// ports their STP state (0 disabled, 3 forwarding).
std::string DescribeLinks(int netns_fd) {
  RouteClient client(netns_fd);
  std::ostringstream out;
  for (uint8_t family : {uint8_t{AF_UNSPEC}, uint8_t{AF_BRIDGE}}) {
    NetlinkRequest req(RTM_GETLINK, NLM_F_DUMP);
    req.PutHeader<ifinfomsg>()->ifi_family = family;
    client.Request(req, "dump links for diagnosis", [&](const nlmsghdr* msg) {
      if (msg->nlmsg_type != RTM_NEWLINK) return;
      const auto* ifi = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(msg));
      out << (family == AF_BRIDGE ? " [port " : " [") << ifi->ifi_index;
      if (family != AF_BRIDGE) out << " flags=0x" << std::hex << ifi->ifi_flags << std::dec;
      ForEachAttr(msg, sizeof(ifinfomsg), [&](const nlattr* attr) {
        switch (mnl_attr_get_type(attr)) {
          case IFLA_IFNAME:
            out << " " << mnl_attr_get_str(attr);
            break;
          case IFLA_OPERSTATE:
            if (family != AF_BRIDGE) out << " oper=" << int(mnl_attr_get_u8(attr));
            break;
          case IFLA_PROTINFO:
            ForEachNested(attr, [&](const nlattr* port) {
              if (mnl_attr_get_type(port) == IFLA_BRPORT_STATE)
                out << " stp-state=" << int(mnl_attr_get_u8(port));
            });
            break;
          default:
            break;
        }
      });
      out << "]";
    });
  }
  return out.str();
}

NETNS_TEST(VethBridge, FramesFromPeerNetnsLeaveThroughPhysicalDevice,
           "netns7.veth.bridge-to-physical-device", .kconfigs = {"CONFIG_VETH", "CONFIG_BRIDGE"},
           .refundable_device = true) {
  LentDevice lent;
  BridgeTopology t(lent);
  if (!t.unusable.empty()) GTEST_SKIP() << t.unusable;
  RouteClient in_n(t.n.get());
  SetMaster(in_n, t.vn, t.bridge);
  EXPECT_EQ(GetDetails(in_n, t.phys)->master, t.bridge);
  EXPECT_EQ(GetDetails(in_n, t.vn)->master, t.bridge);
  {
    PacketTap phys_tap(t.n.get(), t.phys);
    FrameSender from_c(t.c.get(), t.vc, t.vc_mac);
    EXPECT_TRUE(SendUntilSeen(from_c, phys_tap, "netns-conform bridge", PACKET_OUTGOING))
        << "a frame sent in C never left through the physical device bridged in N;"
        << DescribeLinks(t.n.get());
  }
  // The physical device stayed in N the whole time: C has only its end of the pair.
  EXPECT_THAT(LinkNames(t.c.get()), UnorderedElementsAre("lo", "nc-vc"));
}

NETNS_TEST(VethBridge, PhysicalDeviceReachedOnlyThroughTheBridge,
           "clone2.veth.bridge-to-physical-device", .kconfigs = {"CONFIG_VETH", "CONFIG_BRIDGE"},
           .refundable_device = true) {
  LentDevice lent;
  BridgeTopology t(lent);
  if (!t.unusable.empty()) GTEST_SKIP() << t.unusable;
  RouteClient in_n(t.n.get());
  PacketTap phys_tap(t.n.get(), t.phys), vn_tap(t.n.get(), t.vn);
  FrameSender from_c(t.c.get(), t.vc, t.vc_mac);

  // Negative control: with vn not yet in the bridge, frames from C reach N's end of the pair and
  // stop there.
  ASSERT_TRUE(SendUntilSeen(from_c, vn_tap, "before", PACKET_OTHERHOST))
      << "frames from C never arrived at N's end of the pair";
  EXPECT_FALSE(phys_tap.Saw("before", PACKET_OUTGOING, milliseconds(0)))
      << "a frame reached the physical device without the bridge";

  SetMaster(in_n, t.vn, t.bridge);
  EXPECT_TRUE(SendUntilSeen(from_c, phys_tap, "after", PACKET_OUTGOING))
      << "with vn enslaved, frames from C must leave through the physical device;"
      << DescribeLinks(t.n.get());

  // The bridge learnt C's address on the veth port.
  bool learnt = false;
  NetlinkRequest req(RTM_GETNEIGH, NLM_F_DUMP);
  req.PutHeader<ndmsg>()->ndm_family = AF_BRIDGE;
  in_n.Request(req, "dump bridge fdb", [&](const nlmsghdr* msg) {
    const auto* ndm = static_cast<const ndmsg*>(mnl_nlmsg_get_payload(msg));
    ForEachAttr(msg, sizeof(ndmsg), [&](const nlattr* attr) {
      if (mnl_attr_get_type(attr) == NDA_LLADDR && FormatMac(attr) == t.vc_mac &&
          ndm->ndm_ifindex == t.vn)
        learnt = true;
    });
  });
  EXPECT_TRUE(learnt) << "no fdb entry for C's " << t.vc_mac << " on the veth port";
}

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

// =====================================================================================
// SEMANTICS.md B1.3: netns-immutable devices
// =====================================================================================

constexpr const char* kImmutableClause = "sem.B1.3.immutable-device-move-einval";
constexpr const char* kImmutableText = "The interface netns is immutable";

NETNS_TEST(DeviceMove, LoopbackCannotChangeNetns, kImmutableClause) {
  FileDescriptor a = CreateNetns(), b = CreateNetns();
  NetnsHolderProcess in_b(b.get());
  RouteClient in_a(a.get());
  in_a.SetNsid(b.get(), 5);
  const int lo = in_a.GetLink("lo").value().ifindex;
  const std::vector<std::pair<const char*, MoveSpec>> selectors = {
      {"IFLA_NET_NS_FD", {.fd = b.get()}},
      {"IFLA_NET_NS_PID", {.pid = in_b.pid()}},
      {"IFLA_TARGET_NETNSID", {.target_nsid = 5}}};
  for (const auto& [what, spec] : selectors) {
    NlOutcome outcome = TryMove(in_a, lo, spec);
    EXPECT_THAT(AsCall(outcome), SyscallFailsWithErrno(EINVAL)) << what;
    ExpectMoveExtack(outcome, kImmutableText);
  }
  EXPECT_EQ(in_a.GetLink("lo").value().ifindex, lo) << "lo left its netns";
  EXPECT_THAT(LinkNames(b.get()), ElementsAre("lo"));
}

NETNS_TEST(DeviceMove, BridgeCannotChangeNetnsButVethCan, kImmutableClause,
           .kconfigs = {"CONFIG_BRIDGE", "CONFIG_VETH"}) {
  FileDescriptor a = CreateNetns(), b = CreateNetns();
  RouteClient in_a(a.get());
  CreateSimpleLink(in_a, "bridge", "br0");
  in_a.CreateVeth("va", "vb");
  const int br = in_a.GetLink("br0").value().ifindex;
  NlOutcome outcome = TryMove(in_a, br, {.fd = b.get()});
  EXPECT_THAT(AsCall(outcome), SyscallFailsWithErrno(EINVAL));
  ExpectMoveExtack(outcome, kImmutableText);
  EXPECT_TRUE(in_a.GetLink("br0").has_value());
  // Control: an ordinary device takes the same path.
  EXPECT_THAT(AsCall(TryMove(in_a, in_a.GetLink("va").value().ifindex, {.fd = b.get()})),
              SyscallSucceeds());
  EXPECT_THAT(LinkNames(b.get()), UnorderedElementsAre("lo", "va"));
}

NETNS_TEST(DeviceMove, NetnsImmutableAttributeWhereReported, "sem.B1.3.netns-immutable-attribute",
           .kconfigs = {"CONFIG_BRIDGE", "CONFIG_VETH"}) {
  FileDescriptor a = CreateNetns();
  RouteClient in_a(a.get());
  // Gate: 4754affe0b57 "net: advertise netns_immutable property via netlink" (v6.15).
  if (!HasNetnsImmutableAttribute())
    GTEST_SKIP() << "the kernel does not report IFLA_NETNS_IMMUTABLE (attribute 67; probed on lo)";
  auto lo = in_a.GetLink("lo");
  ASSERT_TRUE(lo.has_value());
  CreateSimpleLink(in_a, "bridge", "br0");
  in_a.CreateVeth("va", "vb");
  EXPECT_EQ(lo->netns_immutable, true) << *lo;
  EXPECT_EQ(in_a.GetLink("br0")->netns_immutable, true);
  EXPECT_EQ(in_a.GetLink("va")->netns_immutable, false);
  if (TryNetlink([&] { CreateSimpleLink(in_a, "ifb", "ifb9"); }).err == 0) {
    EXPECT_EQ(in_a.GetLink("ifb9")->netns_immutable, false);
  }
  // The attribute is read-only: NLA_REJECT on input.
  NetlinkRequest req(RTM_NEWLINK, 0);
  req.PutHeader<ifinfomsg>()->ifi_index = in_a.GetLink("va").value().ifindex;
  mnl_attr_put_u8(req.nlh(), kIflaNetnsImmutable, 1);
  EXPECT_THAT(AsCall(TryNetlink([&] { in_a.Request(req, "set IFLA_NETNS_IMMUTABLE"); })),
              SyscallFailsWithErrno(EINVAL));
  EXPECT_EQ(in_a.GetLink("va")->netns_immutable, false);
}

// =====================================================================================
// SEMANTICS.md B1.4: how a move fails
// =====================================================================================

NETNS_TEST(DeviceMove, NameClashIsEexistUntilRenamed, "sem.B1.4.move-name-clash-eexist",
           .kconfigs = {"CONFIG_VETH"}) {
  FileDescriptor a = CreateNetns(), b = CreateNetns();
  RouteClient in_a(a.get()), in_b(b.get());
  in_a.CreateVeth("va", "vb");
  in_b.CreateVeth("va", "vx");
  const int va = in_a.GetLink("va").value().ifindex;
  NlOutcome outcome = TryMove(in_a, va, {.fd = b.get()});
  EXPECT_THAT(AsCall(outcome), SyscallFailsWithErrno(EEXIST));
  ExpectMoveExtack(outcome, "An interface with the same name exists in the target netns");
  EXPECT_TRUE(in_a.GetLink("va").has_value()) << "a failed move must leave the device in place";

  // The same move with a new name in the request works (ip link set va netns B name vc).
  ASSERT_THAT(AsCall(TryMove(in_a, va, {.fd = b.get(), .new_name = "vc"})), SyscallSucceeds());
  EXPECT_FALSE(in_a.GetLink("va").has_value());
  EXPECT_THAT(LinkNames(b.get()), UnorderedElementsAre("lo", "va", "vx", "vc"));
}

NETNS_TEST(DeviceMove, AltnameClashIsEexist, "sem.B1.4.move-name-clash-eexist",
           .kconfigs = {"CONFIG_VETH"}) {
  FileDescriptor a = CreateNetns(), b = CreateNetns();
  RouteClient in_a(a.get()), in_b(b.get());
  in_a.CreateVeth("va", "vb");
  in_b.CreateVeth("taken", "tx");
  const int va = in_a.GetLink("va").value().ifindex;
  ChangeAltname(in_a, RTM_NEWLINKPROP, va, "taken");
  EXPECT_THAT(AsCall(TryMove(in_a, va, {.fd = b.get()})), SyscallFailsWithErrno(EEXIST))
      << "va's altname is a device name in the target";
  EXPECT_TRUE(in_a.GetLink("va").has_value());
  // Control: without the clashing altname the move goes through.
  ChangeAltname(in_a, RTM_DELLINKPROP, va, "taken");
  EXPECT_THAT(AsCall(TryMove(in_a, va, {.fd = b.get()})), SyscallSucceeds());
}

NETNS_TEST(DeviceMove, IntoNetnsOwnedByAnotherUserNamespaceIsEperm,
           "sem.B1.4.move-eperm-without-cap-in-target", .kconfigs = {"CONFIG_VETH"}) {
  FileDescriptor root_owned = CreateNetns();
  auto child = RunInChild({.uid = kNobodyUid, .new_user_ns = true}, [&](ChildChannel& ch) {
    ch.Record("unshare", unshare(CLONE_NEWNET));
    RouteClient own;
    own.CreateVeth("va", "vb");
    const int va = own.GetLink("va").value().ifindex;
    const int vb = own.GetLink("vb").value().ifindex;
    FileDescriptor own_second = CreateNetns();
    RecordOutcome(ch, "move-to-root-owned", TryMove(own, va, {.fd = root_owned.get()}));
    RecordOutcome(ch, "move-to-own", TryMove(own, vb, {.fd = own_second.get()}));
  });
  ASSERT_TRUE(child.Ok()) << child.Describe();
  ASSERT_THAT(child.Call("unshare"), SyscallSucceeds());
  EXPECT_THAT(child.Call("move-to-root-owned"), SyscallFailsWithErrno(EPERM));
  EXPECT_THAT(child.Call("move-to-own"), SyscallSucceeds())
      << "control: a netns owned by the caller's user namespace accepts the device";
  EXPECT_THAT(LinkNames(root_owned.get()), ElementsAre("lo"));
}

constexpr const char* kTargetErrorsClause = "sem.B1.4.move-target-errors";

NETNS_TEST(DeviceMove, UnusableTargetSelectors, kTargetErrorsClause, .kconfigs = {"CONFIG_VETH"}) {
  FileDescriptor a = CreateNetns(), b = CreateNetns();
  RouteClient in_a(a.get());
  in_a.CreateVeth("va", "vb");
  const int va = in_a.GetLink("va").value().ifindex;
  FileDescriptor regular(open("/proc/self/stat", O_RDONLY | O_CLOEXEC));
  FileDescriptor uts_ns(open("/proc/self/ns/uts", O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(regular.valid() && uts_ns.valid());

  EXPECT_THAT(AsCall(TryMove(in_a, va, {.fd = regular.get()})), SyscallFailsWithErrno(EINVAL))
      << "a regular file is not a netns";
  EXPECT_THAT(AsCall(TryMove(in_a, va, {.fd = uts_ns.get()})), SyscallFailsWithErrno(EINVAL))
      << "a UTS namespace is not a netns";
  EXPECT_THAT(AsCall(TryMove(in_a, va, {.fd = ClosedFd()})), SyscallFailsWithErrno(EBADF));
  EXPECT_THAT(AsCall(TryMove(in_a, va, {.pid = ReapedPid()})), SyscallFailsWithErrno(ESRCH));
  ASSERT_THAT(in_a.DumpNsids(), IsEmpty());
  EXPECT_THAT(AsCall(TryMove(in_a, va, {.target_nsid = 17})), SyscallFailsWithErrno(EINVAL))
      << "no netns has nsid 17 in A";
  EXPECT_TRUE(in_a.GetLink("va").has_value()) << "a failed move must leave the device in place";

  // Control: a known nsid is a usable selector.
  in_a.SetNsid(b.get(), 17);
  EXPECT_THAT(AsCall(TryMove(in_a, va, {.target_nsid = 17})), SyscallSucceeds());
  EXPECT_THAT(LinkNames(b.get()), UnorderedElementsAre("lo", "va"));
}

NETNS_TEST(DeviceMove, TwoSelectorsEinvalOwnNetnsNoop, kTargetErrorsClause,
           .kconfigs = {"CONFIG_VETH"}) {
  FileDescriptor a = CreateNetns(), b = CreateNetns();
  NetnsHolderProcess in_b(b.get());
  RouteClient in_a(a.get());
  in_a.CreateVeth("va", "vb");
  in_a.SetNsid(b.get(), 3);
  const int va = in_a.GetLink("va").value().ifindex;
  const std::vector<std::pair<const char*, MoveSpec>> pairs = {
      {"FD+PID", {.fd = b.get(), .pid = in_b.pid()}},
      {"FD+TARGET_NETNSID", {.fd = b.get(), .target_nsid = 3}},
      {"PID+TARGET_NETNSID", {.pid = in_b.pid(), .target_nsid = 3}}};
  for (const auto& [what, spec] : pairs) {
    NlOutcome outcome = TryMove(in_a, va, spec);
    EXPECT_THAT(AsCall(outcome), SyscallFailsWithErrno(EINVAL)) << what;
    // rtnl_ensure_unique_netns() has said so since before 6.1 (seen in 6.1.0-57): no gate.
    EXPECT_EQ(outcome.extack, "multiple netns identifying attributes specified") << what;
  }
  EXPECT_THAT(LinkNames(b.get()), ElementsAre("lo"));

  // Moving into the netns it is already in succeeds and changes nothing.
  EventWatcher watch(a.get(), {RTNLGRP_LINK});
  EXPECT_THAT(AsCall(TryMove(in_a, va, {.fd = a.get()})), SyscallSucceeds());
  EXPECT_EQ(in_a.GetLink("va").value().ifindex, va);
  EXPECT_FALSE(watch.WaitLinkDeleted(va, milliseconds(0))) << "a no-op move announced a departure";
}

NETNS_TEST(DeviceMove, NewIfindexInUseIsEbusy, kTargetErrorsClause, .kconfigs = {"CONFIG_VETH"}) {
  FileDescriptor a = CreateNetns(), b = CreateNetns();
  RouteClient in_a(a.get()), in_b(b.get());
  in_a.CreateVeth("va", "vb");
  const int va = in_a.GetLink("va").value().ifindex;
  const int b_lo = in_b.GetLink("lo").value().ifindex;
  EXPECT_THAT(AsCall(TryMove(in_a, va, {.fd = b.get(), .new_ifindex = b_lo})),
              SyscallFailsWithErrno(EBUSY))
      << "ifindex " << b_lo << " is lo's in the target";
  EXPECT_TRUE(in_a.GetLink("va").has_value());
  // Control: a free ifindex is honoured.
  ASSERT_THAT(AsCall(TryMove(in_a, va, {.fd = b.get(), .new_ifindex = 777})), SyscallSucceeds());
  auto moved = in_b.GetLink("va");
  ASSERT_TRUE(moved.has_value());
  EXPECT_EQ(moved->ifindex, 777);
}

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

// =====================================================================================
// SEMANTICS.md B2: veth pairs across namespaces
// =====================================================================================

NETNS_TEST(VethPair, EitherEndsNetnsDeathDeletesBoth, "sem.B2.1.either-end-destroys-pair",
           .kconfigs = {"CONFIG_VETH"}) {
  for (const bool first_dies : {true, false}) {
    SCOPED_TRACE(first_dies ? "the netns of the first end dies" : "the peer's netns dies");
    FileDescriptor x = CreateNetns(), y = CreateNetns();
    RouteClient(x.get()).CreateVeth("va", "vb", y.get());
    FileDescriptor& dying = first_dies ? x : y;
    FileDescriptor& living = first_dies ? y : x;
    const std::string survivor_end = first_dies ? "vb" : "va";
    RouteClient in_living(living.get());
    auto end = in_living.GetLink(survivor_end);
    ASSERT_TRUE(end.has_value());
    EventWatcher watch(living.get(), {RTNLGRP_LINK});

    dying.reset();

    auto gone = watch.WaitLink(
        [&](const LinkEvent& e) { return e.type == RTM_DELLINK && e.link.ifindex == end->ifindex; },
        kTeardownDeadline);
    ASSERT_TRUE(gone.has_value()) << survivor_end << " outlived its peer's netns";
    EXPECT_FALSE(gone->link.new_netnsid.has_value()) << "deleted, not moved: " << gone->link;
    // The living netns is intact, and the name is free again there.
    EXPECT_TRUE(in_living.GetLink("lo").has_value());
    EXPECT_THAT(AsCall(TryNetlink([&] { in_living.CreateVeth(survivor_end, "again"); })),
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
