// SEMANTICS.md B5.4: a socket keeps the netns it was created in when its creator moves
// (unshare, setns); new sockets of the creator are made in the new one.

#include <arpa/inet.h>
#include <fcntl.h>
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
#include "suites/sockets_helpers.h"

namespace conform {
namespace {

using namespace sockets;  // what the socket and stack suites share

constexpr const char* kKeepsClause = "sem.B5.4.socket-keeps-creation-netns";

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

}  // namespace
}  // namespace conform
