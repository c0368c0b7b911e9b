// veth "can be used to create a bridge to a physical network device in another namespace"
// (network_namespaces(7), clone(2)): frames from a peer netns leave through a lent physical device
// enslaved with the veth end to a bridge, and reach it only through that bridge.
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
using std::chrono::seconds;
using ::testing::UnorderedElementsAre;

// IFF_LOWER_UP (carrier) from <linux/if.h>, which clashes with glibc's <net/if.h>.
constexpr unsigned kIffLowerUp = 1u << 16;
void SetMaster(RouteClient& client, int ifindex, int master_ifindex) {
  NetlinkRequest req(RTM_NEWLINK, 0);
  req.PutHeader<ifinfomsg>()->ifi_index = ifindex;
  mnl_attr_put_u32(req.nlh(), IFLA_MASTER, static_cast<uint32_t>(master_ifindex));
  client.Request(req, "enslave #" + std::to_string(ifindex));
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

}  // namespace
}  // namespace conform
