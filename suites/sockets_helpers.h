// What the socket and stack suites (sockets_*_test.cc, stack_isolation_test.cc,
// firewall_isolation_test.cc) share: sockets made inside a netns without moving the calling
// thread, socket addresses, and the rtnetlink requests RouteClient does not make itself (veth pairs
// up, lo up, IPv4 routes of the main table).
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "fixtures/fd.h"
#include "fixtures/netlink.h"

namespace conform::sockets {

// A socket created inside netns_fd; the calling thread does not move.
FileDescriptor SocketIn(int netns_fd, int domain, int type);

struct Address {
  sockaddr_storage storage{};
  socklen_t len = 0;
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

Address Inet4(const char* ip, uint16_t port);
// The port a socket is bound to (IPv4 or IPv6).
uint16_t BoundPort(int fd);

// ---- rtnetlink beyond RouteClient's own requests ----

// A veth pair name<->peer in rc's netns, both ends up; returns name's ifindex.
int UpVethPair(RouteClient& rc, const std::string& name, const std::string& peer);
void LoopbackUp(int netns_fd);
// An IPv4 route in the main table: "dst/prefix dev oif" (scope link).
void ChangeRoute4(RouteClient& rc, uint16_t type, const char* dst, int prefix, int oif);
// Destinations ("a.b.c.d/len") of the IPv4 routes of the main table.
std::vector<std::string> MainTableRoutes4(RouteClient& rc);

// Loopback delivery normally completes within the sending syscall, but may be deferred to
// ksoftirqd under load: readiness is awaited with a deadline, never assumed.
void WaitReadable(int fd, std::chrono::milliseconds deadline);

}  // namespace conform::sockets
