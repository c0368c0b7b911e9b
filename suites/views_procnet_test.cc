// /proc/net per netns. network_namespaces(7) ¶1: isolated is "the /proc/net directory (which is a
// symbolic link to /proc/PID/net)"; SEMANTICS.md B6.1: /proc/PID/net follows that task's netns,
// whoever reads it.

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
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
using ::testing::ElementsAre;
using ::testing::Not;

std::optional<std::string> ReadFile(const std::string& path) { return ReadTextFile(path); }

// Interface names of a /proc/net/dev text, sorted.
std::vector<std::string> SortedProcNetDevNames(const std::string& text) {
  auto names = ProcNetDevNames(text);
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<std::string> DevNamesAt(const std::string& path) {
  auto text = ReadFile(path);
  if (!text) throw SystemError("read " + path, errno);
  return SortedProcNetDevNames(*text);
}
// A veth pair va/vb inside netns_fd.
void MakeVeth(int netns_fd) { RouteClient(netns_fd).CreateVeth("va", "vb"); }
// ---------------------------------------------------------------------------------------------
// /proc/net

NETNS_TEST(ProcNet, IsSymlinkToSelfNet, "netns7.isolation.proc-net-symlink",
           .kconfigs = {"CONFIG_VETH"}) {
  struct stat st {};
  ASSERT_THAT(lstat("/proc/net", &st), SyscallSucceeds());
  EXPECT_TRUE(S_ISLNK(st.st_mode)) << "/proc/net must be a symbolic link";
  char target[64] = {};
  ASSERT_THAT(readlink("/proc/net", target, sizeof(target) - 1), SyscallSucceeds());
  EXPECT_STREQ(target, "self/net");

  // /proc/PID/net is the netns of PID: a process in another netns shows that netns's devices.
  NetnsHolderProcess holder;
  {
    FileDescriptor ns(open(holder.NetnsPath().c_str(), O_RDONLY | O_CLOEXEC));
    ASSERT_TRUE(ns.valid()) << holder.NetnsPath() << ": " << ErrnoName(errno);
    MakeVeth(ns.get());
  }
  const std::string theirs = "/proc/" + std::to_string(holder.pid()) + "/net/dev";
  EXPECT_THAT(DevNamesAt(theirs), ElementsAre("lo", "va", "vb"));
  EXPECT_THAT(DevNamesAt("/proc/net/dev"), Not(Contains("va")));
  EXPECT_EQ(DevNamesAt("/proc/net/dev"), DevNamesAt("/proc/self/net/dev"));
}

NETNS_TEST(ProcNet, ShowsOnlyOwnNetnsContents, "netns7.isolation.proc-net",
           .kconfigs = {"CONFIG_VETH"}) {
  FileDescriptor a = CreateNetns(), b = CreateNetns();
  MakeVeth(a.get());
  FileDescriptor tcp, udp;
  RunInNetns(a.get(), [&] {
    tcp.reset(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    udp.reset(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  });
  sockaddr_in any{};
  any.sin_family = AF_INET;
  ASSERT_THAT(bind(tcp.get(), reinterpret_cast<sockaddr*>(&any), sizeof(any)), SyscallSucceeds());
  ASSERT_THAT(listen(tcp.get(), 1), SyscallSucceeds());
  ASSERT_THAT(bind(udp.get(), reinterpret_cast<sockaddr*>(&any), sizeof(any)), SyscallSucceeds());
  auto port_of = [](int fd) {
    sockaddr_in sin{};
    socklen_t len = sizeof(sin);
    getsockname(fd, reinterpret_cast<sockaddr*>(&sin), &len);
    return ntohs(sin.sin_port);
  };
  const uint16_t tcp_port = port_of(tcp.get()), udp_port = port_of(udp.get());

  struct View {
    std::vector<std::string> dev;
    bool tcp = false, udp = false;
  };
  auto view_from = [&](int netns_fd) {
    View view;
    RunInNetns(netns_fd, [&] {
      view.dev = DevNamesAt("/proc/thread-self/net/dev");
      view.tcp = ProcNetListsPort(ReadFile("/proc/thread-self/net/tcp").value_or(""), tcp_port);
      view.udp = ProcNetListsPort(ReadFile("/proc/thread-self/net/udp").value_or(""), udp_port);
    });
    return view;
  };
  const View in_a = view_from(a.get()), in_b = view_from(b.get());
  EXPECT_THAT(in_a.dev, ElementsAre("lo", "va", "vb")) << "control: A's own devices";
  EXPECT_TRUE(in_a.tcp) << "control: A's listener in A's /proc/net/tcp";
  EXPECT_TRUE(in_a.udp) << "control: A's socket in A's /proc/net/udp";
  EXPECT_THAT(in_b.dev, ElementsAre("lo")) << "B's /proc/net/dev";
  EXPECT_FALSE(in_b.tcp) << "B's /proc/net/tcp lists A's listener";
  EXPECT_FALSE(in_b.udp) << "B's /proc/net/udp lists A's socket";
}

// B6.1: the leader sits in A (which has va/vb); a second thread unshares. /proc/thread-self/net
// and /proc/self/task/TID/net follow the thread, /proc/self/net and /proc/net the leader.
NETNS_TEST(ProcNet, FollowsTheTaskItNames, "sem.B6.1.proc-net-follows-task",
           .kconfigs = {"CONFIG_VETH"}) {
  FileDescriptor a = CreateNetns();
  MakeVeth(a.get());
  std::vector<std::string> thread_self, by_tid, self, proc_net;
  SyscallResult unshared;
  {
    ScopedNetns leader_in_a(a.get());
    std::string error;
    std::thread worker([&] {
      unshared.rc = unshare(CLONE_NEWNET);
      unshared.err = errno;
      if (unshared.rc != 0) return;
      try {
        thread_self = DevNamesAt("/proc/thread-self/net/dev");
        by_tid = DevNamesAt("/proc/self/task/" + std::to_string(gettid()) + "/net/dev");
        self = DevNamesAt("/proc/self/net/dev");
        proc_net = DevNamesAt("/proc/net/dev");
      } catch (const std::exception& e) {
        error = e.what();
      }
    });
    worker.join();
    ASSERT_EQ(error, "");
  }
  ASSERT_THAT(unshared, SyscallSucceeds());
  EXPECT_THAT(thread_self, ElementsAre("lo")) << "/proc/thread-self/net: the thread's new netns";
  EXPECT_THAT(by_tid, ElementsAre("lo")) << "/proc/self/task/TID/net: the thread's new netns";
  EXPECT_THAT(self, ElementsAre("lo", "va", "vb")) << "/proc/self/net: the leader's netns (A)";
  EXPECT_THAT(proc_net, ElementsAre("lo", "va", "vb")) << "/proc/net: the leader's netns (A)";
}

}  // namespace
}  // namespace conform
