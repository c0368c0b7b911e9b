// SEMANTICS.md B4.5: SIOCGSKNS hands back an fd of the netns a socket was created in, and needs
// CAP_NET_ADMIN over that netns.

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
#include "fixtures/netns.h"
#include "fixtures/probe.h"
#include "fixtures/syscall_matchers.h"
#include "suites/sockets_helpers.h"

namespace conform {
namespace {

using namespace sockets;  // what the socket and stack suites share

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
