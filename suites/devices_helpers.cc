#include "suites/devices_helpers.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/if_link.h>
#include <linux/veth.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>

#include "fixtures/error.h"
#include "fixtures/netns.h"
#include "fixtures/probe.h"

namespace conform::devices {
namespace {

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

}  // namespace

SyscallResult AsCall(const NlOutcome& outcome) {
  return outcome.err ? SyscallResult{-1, outcome.err} : SyscallResult{0, 0};
}

void RecordOutcome(ChildChannel& ch, const std::string& name, const NlOutcome& outcome) {
  errno = outcome.err;
  ch.Record(name, outcome.err ? -1 : 0);
}

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

void CreateSimpleLink(RouteClient& client, const std::string& kind, const std::string& name) {
  NetlinkRequest req(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  req.PutHeader<ifinfomsg>();
  mnl_attr_put_strz(req.nlh(), IFLA_IFNAME, name.c_str());
  nlattr* linkinfo = mnl_attr_nest_start(req.nlh(), IFLA_LINKINFO);
  mnl_attr_put_strz(req.nlh(), IFLA_INFO_KIND, kind.c_str());
  mnl_attr_nest_end(req.nlh(), linkinfo);
  client.Request(req, "create " + kind + " " + name);
}

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

FileDescriptor SocketIn(int netns_fd, int domain, int type, int protocol) {
  FileDescriptor sock;
  int err = 0;
  RunInNetns(netns_fd, [&] {
    sock.reset(socket(domain, type | SOCK_CLOEXEC, protocol));
    err = errno;
  });
  if (!sock) throw SystemError("socket in netns", err);
  return sock;
}

bool WaitReadable(int fd, std::chrono::milliseconds timeout) {
  pollfd pfd{fd, POLLIN, 0};
  for (;;) {
    int ready = poll(&pfd, 1, static_cast<int>(timeout.count()));
    if (ready >= 0) return ready > 0;
    if (errno != EINTR) throw SystemError("poll", errno);
  }
}

}  // namespace conform::devices
