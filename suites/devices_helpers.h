// What the device suites (devices_*_test.cc) share: netlink outcomes a case can assert on
// (errno and extended ACK), the link details LinkInfo does not carry, raw RTM_NEWLINK requests
// (moves with any target selector, links at chosen ifindexes, altnames), sockets opened in a
// netns, and the lent refundable device with its way back to the initial netns.
#pragma once

#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/types.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "fixtures/child.h"
#include "fixtures/fd.h"
#include "fixtures/netlink.h"
#include "fixtures/refund_device.h"

namespace conform::devices {

inline constexpr auto kTeardownDeadline = std::chrono::seconds(10);
inline constexpr auto kTrafficDeadline = std::chrono::seconds(10);
// How often a datagram or frame is sent again while waiting for it to arrive: the first ones may be
// dropped while a freshly raised link is still being activated (linkwatch runs asynchronously).
inline constexpr auto kResendInterval = std::chrono::milliseconds(100);

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
SyscallResult AsCall(const NlOutcome& outcome);

// For a forked child, which records results instead of asserting.
void RecordOutcome(ChildChannel& ch, const std::string& name, const NlOutcome& outcome);

// The kernel explains a refused device move in an extended ACK since 12b6f7069ba5 "net: plumb
// extack in __dev_change_net_namespace()" (v6.15; Debian's 6.12.118 has it too, without
// IFLA_NETNS_IMMUTABLE of the same series). Where the probe finds the feature, the text must be
// the documented one (SEMANTICS.md B1.3/B1.4), an empty one included; elsewhere only the errno is
// checked, and the case says so in its log.
void ExpectMoveExtack(const NlOutcome& outcome, const std::string& documented);

// A hardware address as ip prints it (aa:bb:...).
std::string FormatMac(const nlattr* attr);

// What LinkInfo does not carry: hardware address, master, alternative names.
struct LinkDetails {
  int ifindex = 0;
  std::string name;
  std::string mac;
  unsigned flags = 0;
  std::optional<int> master;
  std::vector<std::string> altnames;
};

std::optional<LinkDetails> GetDetails(RouteClient& client, int ifindex);
// Every link of the client's netns, dumped again when the dump raced with a change.
std::vector<LinkDetails> DumpDetails(RouteClient& client);
std::vector<std::string> LinkNames(int netns_fd);

// A link of a kind that needs no attributes (bridge, ifb).
void CreateSimpleLink(RouteClient& client, const std::string& kind, const std::string& name);
// A veth pair in the socket's netns with both ifindexes chosen by the caller.
void CreateVethAt(RouteClient& client, const std::string& name, int ifindex,
                  const std::string& peer_name, int peer_ifindex);
// No IPv6 link-local address, hence no DAD, router or MLD traffic out of a lent NIC.
void SetAddrGenModeNone(RouteClient& client, int ifindex);
// Adds (RTM_NEWLINKPROP) or deletes (RTM_DELLINKPROP) an alternative name.
void ChangeAltname(RouteClient& client, uint16_t type, int ifindex, const std::string& altname);

// One RTM_NEWLINK move request with any combination of target selectors (SEMANTICS.md B1.4).
struct MoveSpec {
  std::optional<int> fd;
  std::optional<pid_t> pid;
  std::optional<int> target_nsid;
  std::optional<int> new_ifindex;
  std::optional<std::string> new_name;
};

NlOutcome TryMove(RouteClient& client, int ifindex, const MoveSpec& spec);
int IfindexOf(int netns_fd, const std::string& name);

// ---- sockets in namespaces ----

FileDescriptor SocketIn(int netns_fd, int domain, int type, int protocol = 0);
bool WaitReadable(int fd, std::chrono::milliseconds timeout);

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
      if (!FindInInit()) WaitBack(std::chrono::seconds(30));
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
  std::optional<LinkEvent> WaitBack(std::chrono::milliseconds deadline = kTeardownDeadline) {
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

}  // namespace conform::devices
