// network_namespaces(7) ¶1: network namespaces isolate "port numbers (sockets)": the same port
// binds in two netns at once, and a loopback connect reaches only its own netns's listener.

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
#include "fixtures/netns.h"
#include "fixtures/probe.h"
#include "fixtures/syscall_matchers.h"
#include "suites/sockets_helpers.h"

namespace conform {
namespace {

using namespace sockets;  // what the socket and stack suites share

constexpr const char* kPortClause = "netns7.isolation.port-numbers";
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

}  // namespace
}  // namespace conform
