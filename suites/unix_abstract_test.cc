// network_namespaces(7) (man-pages 5.10): "network namespaces isolate the UNIX domain abstract
// socket namespace (see unix(7))". Kernel side: SEMANTICS.md B3.1 (abstract names are looked up in
// the *socket's* netns) and B3.2 (pathname sockets resolve through the VFS and do cross netns).
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "fixtures/case_registry.h"
#include "fixtures/netns.h"
#include "fixtures/syscall_matchers.h"

namespace conform {
namespace {

constexpr const char* kAbstractClause = "netns7.isolation.unix-abstract";

// A name no other case or process uses: "netns-conform-<pid>-<n>".
std::string UniqueName() {
  static int counter = 0;
  return "netns-conform-" + std::to_string(getpid()) + "-" + std::to_string(++counter);
}

// sockaddr for an abstract name (leading NUL, no terminator counted).
struct AbstractAddress {
  sockaddr_un addr{};
  socklen_t len = 0;
  explicit AbstractAddress(const std::string& name) {
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path + 1, name.data(), name.size());
    len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  }
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&addr); }
};

// A socket created inside netns_fd (the calling thread does not move).
FileDescriptor SocketIn(int netns_fd, int type) {
  FileDescriptor sock;
  RunInNetns(netns_fd, [&] { sock.reset(socket(AF_UNIX, type | SOCK_CLOEXEC, 0)); });
  if (!sock) throw SystemError("socket(AF_UNIX) in netns", errno);
  return sock;
}

// A listening stream socket bound to the abstract name inside netns_fd.
FileDescriptor ListenerIn(int netns_fd, const std::string& name) {
  FileDescriptor sock = SocketIn(netns_fd, SOCK_STREAM);
  AbstractAddress address(name);
  CheckSyscall(bind(sock.get(), address.get(), address.len), "bind(@" + name + ")");
  CheckSyscall(listen(sock.get(), 4), "listen");
  return sock;
}

// The lines of /proc/net/unix as seen from inside netns_fd.
std::string ProcNetUnixIn(int netns_fd) {
  std::string text;
  RunInNetns(netns_fd, [&] {
    std::ifstream in("/proc/thread-self/net/unix");
    std::stringstream buf;
    buf << in.rdbuf();
    text = buf.str();
  });
  return text;
}

NETNS_TEST(UnixAbstract, SameNameBindsInTwoNetns, kAbstractClause) {
  FileDescriptor a = CreateNetns(), b = CreateNetns();
  const std::string name = UniqueName();
  AbstractAddress address(name);
  FileDescriptor in_a = SocketIn(a.get(), SOCK_STREAM);
  FileDescriptor in_b = SocketIn(b.get(), SOCK_STREAM);
  EXPECT_THAT(bind(in_a.get(), address.get(), address.len), SyscallSucceeds());
  EXPECT_THAT(bind(in_b.get(), address.get(), address.len), SyscallSucceeds());
}

NETNS_TEST(UnixAbstract, SecondBindInSameNetnsIsEaddrinuse, kAbstractClause) {
  FileDescriptor a = CreateNetns();
  const std::string name = UniqueName();
  AbstractAddress address(name);
  FileDescriptor first = SocketIn(a.get(), SOCK_STREAM);
  FileDescriptor second = SocketIn(a.get(), SOCK_STREAM);
  ASSERT_THAT(bind(first.get(), address.get(), address.len), SyscallSucceeds());
  EXPECT_THAT(bind(second.get(), address.get(), address.len), SyscallFailsWithErrno(EADDRINUSE));
  // Closing the first socket frees the name (abstract names have no file to unlink).
  first.reset();
  EXPECT_THAT(bind(second.get(), address.get(), address.len), SyscallSucceeds());
}

NETNS_TEST(UnixAbstract, StreamConnectFromOtherNetnsIsRefused, kAbstractClause) {
  FileDescriptor a = CreateNetns(), b = CreateNetns();
  const std::string name = UniqueName();
  FileDescriptor listener = ListenerIn(a.get(), name);
  AbstractAddress address(name);

  FileDescriptor same = SocketIn(a.get(), SOCK_STREAM);
  EXPECT_THAT(connect(same.get(), address.get(), address.len), SyscallSucceeds())
      << "control: a client in the listener's own netns must connect";
  FileDescriptor other = SocketIn(b.get(), SOCK_STREAM);
  EXPECT_THAT(connect(other.get(), address.get(), address.len),
              SyscallFailsWithErrno(ECONNREFUSED));
}

NETNS_TEST(UnixAbstract, DgramSendtoFromOtherNetnsIsRefused, kAbstractClause) {
  FileDescriptor a = CreateNetns(), b = CreateNetns();
  const std::string name = UniqueName();
  AbstractAddress address(name);
  FileDescriptor receiver = SocketIn(a.get(), SOCK_DGRAM);
  ASSERT_THAT(bind(receiver.get(), address.get(), address.len), SyscallSucceeds());

  FileDescriptor same = SocketIn(a.get(), SOCK_DGRAM);
  EXPECT_THAT(sendto(same.get(), "x", 1, 0, address.get(), address.len),
              SyscallSucceedsWithValue(1));
  char byte = 0;
  EXPECT_THAT(recv(receiver.get(), &byte, 1, MSG_DONTWAIT), SyscallSucceedsWithValue(1));
  FileDescriptor other = SocketIn(b.get(), SOCK_DGRAM);
  EXPECT_THAT(sendto(other.get(), "y", 1, 0, address.get(), address.len),
              SyscallFailsWithErrno(ECONNREFUSED));
  EXPECT_THAT(recv(receiver.get(), &byte, 1, MSG_DONTWAIT), SyscallFailsWithErrno(EAGAIN))
      << "nothing from the other netns may arrive";
}

// The lookup uses the socket's netns, not the netns of the thread that calls connect().
NETNS_TEST(UnixAbstract, SocketNetnsDecidesNotCallingThread, kAbstractClause) {
  FileDescriptor a = CreateNetns(), b = CreateNetns();
  const std::string name = UniqueName();
  FileDescriptor listener = ListenerIn(a.get(), name);
  AbstractAddress address(name);

  FileDescriptor made_in_b = SocketIn(b.get(), SOCK_STREAM);
  FileDescriptor made_in_a = SocketIn(a.get(), SOCK_STREAM);
  long from_a_thread = 0, from_b_thread = 0;
  int errno_a_thread = 0;
  RunInNetns(a.get(), [&] {
    from_a_thread = connect(made_in_b.get(), address.get(), address.len);
    errno_a_thread = errno;
  });
  RunInNetns(b.get(),
             [&] { from_b_thread = connect(made_in_a.get(), address.get(), address.len); });
  EXPECT_THAT((SyscallResult{from_a_thread, errno_a_thread}), SyscallFailsWithErrno(ECONNREFUSED))
      << "a socket made in B, used by a thread in A, still looks in B";
  EXPECT_THAT((SyscallResult{from_b_thread, 0}), SyscallSucceeds())
      << "a socket made in A, used by a thread in B, still looks in A";
}

NETNS_TEST(UnixAbstract, PathnameSocketsCrossNetns, "sem.B3.2.unix-pathname-crosses-netns") {
  FileDescriptor a = CreateNetns(), b = CreateNetns();
  char dir_template[] = "/tmp/netns-conform-XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  Cleanup remove_dir([&] { rmdir(dir_template); });
  const std::string path = std::string(dir_template) + "/sock";
  Cleanup remove_sock([&] { unlink(path.c_str()); });

  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  const auto* sa = reinterpret_cast<const sockaddr*>(&addr);
  FileDescriptor listener = SocketIn(a.get(), SOCK_STREAM);
  ASSERT_THAT(bind(listener.get(), sa, sizeof(addr)), SyscallSucceeds());
  ASSERT_THAT(listen(listener.get(), 4), SyscallSucceeds());

  FileDescriptor client = SocketIn(b.get(), SOCK_STREAM);
  EXPECT_THAT(connect(client.get(), sa, sizeof(addr)), SyscallSucceeds());
  FileDescriptor accepted(accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(accepted.valid()) << ErrnoName(errno);
  // B3.2: the server-side socket that accept() returns is created in the client's netns.
  EXPECT_EQ(IdentifySocketNetns(accepted.get()), IdentifyNetns(b.get()));
  EXPECT_EQ(IdentifySocketNetns(listener.get()), IdentifyNetns(a.get()));
}

NETNS_TEST(UnixAbstract, ProcNetUnixListsNameOnlyInItsNetns, kAbstractClause) {
  FileDescriptor a = CreateNetns(), b = CreateNetns();
  const std::string name = UniqueName();
  FileDescriptor listener = ListenerIn(a.get(), name);
  EXPECT_NE(ProcNetUnixIn(a.get()).find("@" + name), std::string::npos)
      << "/proc/net/unix in the owning netns lists @" << name;
  EXPECT_EQ(ProcNetUnixIn(b.get()).find("@" + name), std::string::npos)
      << "/proc/net/unix in another netns must not list @" << name;
}

}  // namespace
}  // namespace conform
