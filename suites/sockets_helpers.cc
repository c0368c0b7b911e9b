#include "suites/sockets_helpers.h"

#include <arpa/inet.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <poll.h>

#include <cerrno>
#include <stdexcept>

#include "fixtures/error.h"
#include "fixtures/netns.h"

namespace conform::sockets {

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

Address Inet4(const char* ip, uint16_t port) {
  Address a;
  auto* sin = reinterpret_cast<sockaddr_in*>(&a.storage);
  sin->sin_family = AF_INET;
  sin->sin_port = htons(port);
  if (inet_pton(AF_INET, ip, &sin->sin_addr) != 1) throw std::invalid_argument(ip);
  a.len = sizeof(sockaddr_in);
  return a;
}

uint16_t BoundPort(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  CheckSyscall(getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len), "getsockname");
  return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);  // same offset for in6
}

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

void WaitReadable(int fd, std::chrono::milliseconds deadline) {
  pollfd pfd{fd, POLLIN, 0};
  while (poll(&pfd, 1, static_cast<int>(deadline.count())) < 0 && errno == EINTR) {
  }
}

}  // namespace conform::sockets
