// What a new netns holds (SEMANTICS.md B6.4): only lo, DOWN, without addresses (besides the
// fallback tunnels of enabled drivers); before lo is up connect(127.0.0.1) is ENETUNREACH; once
// up lo holds 127.0.0.1/8 and ::1/128.

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "fixtures/case_registry.h"
#include "fixtures/child.h"
#include "fixtures/netlink.h"
#include "fixtures/netns.h"
#include "fixtures/probe.h"
#include "fixtures/proc_text.h"
#include "fixtures/syscall_matchers.h"

namespace conform {
namespace {

using ::testing::Contains;
using ::testing::IsEmpty;
using ::testing::Not;

// The fallback devices a tunnel driver puts into every new netns (unless
// net.core.fb_tunnels_only_for_init_net, readable only in the initial netns, says otherwise).
const std::map<std::string, std::vector<std::string>>& FallbackTunnels() {
  static const std::map<std::string, std::vector<std::string>> tunnels = {
      {"CONFIG_NET_IPIP", {"tunl0"}},    {"CONFIG_NET_IPGRE", {"gre0", "gretap0", "erspan0"}},
      {"CONFIG_IPV6_SIT", {"sit0"}},     {"CONFIG_IPV6_TUNNEL", {"ip6tnl0"}},
      {"CONFIG_IPV6_GRE", {"ip6gre0"}},  {"CONFIG_NET_IPVTI", {"ip_vti0"}},
      {"CONFIG_IPV6_VTI", {"ip6_vti0"}},
  };
  return tunnels;
}

// Names of the fallback tunnels this kernel may create: those of enabled drivers (all of them
// when the kernel config cannot be read).
std::set<std::string> PossibleFallbackTunnels() {
  std::set<std::string> names;
  for (const auto& [symbol, devices] : FallbackTunnels()) {
    if (RunningKernelConfig().Enabled(symbol).value_or(true))
      names.insert(devices.begin(), devices.end());
  }
  return names;
}

sockaddr_in Loopback4(uint16_t port) {
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return sin;
}

// ---------------------------------------------------------------------------------------------
// B6.4: what a new netns holds

NETNS_TEST(Lifecycle, FreshNetnsHoldsOnlyLoopbackDown, "sem.B6.4.fresh-netns-only-lo-down") {
  FileDescriptor fresh = CreateNetns();
  RouteClient rc(fresh.get());
  const auto tunnels = PossibleFallbackTunnels();
  std::optional<LinkInfo> lo;
  for (const auto& link : rc.DumpLinks()) {
    if (link.name == "lo") {
      lo = link;
      continue;
    }
    // Anything else may only be a fallback tunnel of an enabled tunnel driver, itself DOWN.
    EXPECT_TRUE(tunnels.count(link.name)) << "unexpected device in a fresh netns: " << link;
    EXPECT_FALSE(link.IsUp()) << link;
    EXPECT_THAT(rc.DumpAddresses(link.ifindex), IsEmpty()) << link;
  }
  ASSERT_TRUE(lo.has_value()) << "no lo in a fresh netns";
  EXPECT_TRUE(lo->flags & IFF_LOOPBACK) << *lo;
  EXPECT_FALSE(lo->IsUp()) << "lo must start DOWN: " << *lo;
  EXPECT_THAT(rc.DumpAddresses(lo->ifindex), IsEmpty()) << "lo must start without addresses";

  // Control: the same dump does see a change, so the emptiness above is the netns's.
  rc.SetUp(lo->ifindex, true);
  EXPECT_TRUE(rc.GetLink("lo")->IsUp());
  EXPECT_THAT(rc.DumpAddresses(lo->ifindex), Not(IsEmpty()));
}

NETNS_TEST(Lifecycle, ConnectBeforeLoUpIsEnetunreach, "sem.B6.4.connect-before-lo-up-enetunreach") {
  FileDescriptor fresh = CreateNetns();
  const sockaddr_in closed = Loopback4(9);
  const auto* sa = reinterpret_cast<const sockaddr*>(&closed);
  auto attempt = [&](int type, const sockaddr* to) {
    SyscallResult result;
    RunInNetns(fresh.get(), [&] {
      FileDescriptor sock(socket(AF_INET, type | SOCK_CLOEXEC, 0));
      result.rc = connect(sock.get(), to, sizeof(sockaddr_in));
      result.err = errno;
    });
    return result;
  };
  EXPECT_THAT(attempt(SOCK_STREAM, sa), SyscallFailsWithErrno(ENETUNREACH)) << "TCP";
  EXPECT_THAT(attempt(SOCK_DGRAM, sa), SyscallFailsWithErrno(ENETUNREACH)) << "UDP";

  // bind() to 127.0.0.1 does not need a route and succeeds.
  SyscallResult bound;
  RunInNetns(fresh.get(), [&] {
    FileDescriptor sock(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    const sockaddr_in any_port = Loopback4(0);
    bound.rc = bind(sock.get(), reinterpret_cast<const sockaddr*>(&any_port), sizeof(any_port));
    bound.err = errno;
  });
  EXPECT_THAT(bound, SyscallSucceeds());

  // Control: lo up, and the same connect reaches the (closed) port.
  RouteClient rc(fresh.get());
  rc.SetUp(rc.GetLink("lo")->ifindex, true);
  EXPECT_THAT(attempt(SOCK_STREAM, sa), SyscallFailsWithErrno(ECONNREFUSED));
}

NETNS_TEST(Lifecycle, LoUpHasLoopbackAddresses, "sem.B6.4.lo-up-has-loopback-addresses") {
  FileDescriptor fresh = CreateNetns();
  RouteClient rc(fresh.get());
  const int lo = rc.GetLink("lo")->ifindex;
  rc.SetUp(lo, true);
  const auto no_v6 = Ipv6Unusable(fresh.get(), {"all", "default", "lo"});
  const auto addresses = rc.DumpAddresses(lo);
  EXPECT_THAT(addresses, Contains("127.0.0.1/8"));
  if (!no_v6) {
    EXPECT_THAT(addresses, Contains("::1/128"));
  }

  // A bound but not listening socket makes a port that is certainly closed.
  auto refused = [&](int family) {
    SyscallResult result;
    RunInNetns(fresh.get(), [&] {
      sockaddr_storage ss{};
      socklen_t len;
      if (family == AF_INET) {
        *reinterpret_cast<sockaddr_in*>(&ss) = Loopback4(0);
        len = sizeof(sockaddr_in);
      } else {
        auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
        sin6->sin6_family = AF_INET6;
        sin6->sin6_addr = in6addr_loopback;
        len = sizeof(sockaddr_in6);
      }
      auto* sa = reinterpret_cast<sockaddr*>(&ss);
      FileDescriptor holder(socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
      CheckSyscall(bind(holder.get(), sa, len), "bind the closed port");
      CheckSyscall(getsockname(holder.get(), sa, &len), "getsockname");
      FileDescriptor client(socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
      result.rc = connect(client.get(), sa, len);
      result.err = errno;
    });
    return result;
  };
  EXPECT_THAT(refused(AF_INET), SyscallFailsWithErrno(ECONNREFUSED)) << "127.0.0.1";
  if (no_v6) GTEST_SKIP() << "IPv4 checked; ::1 not checked: " << *no_v6;
  EXPECT_THAT(refused(AF_INET6), SyscallFailsWithErrno(ECONNREFUSED)) << "::1";
}

}  // namespace
}  // namespace conform
