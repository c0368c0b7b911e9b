// ip-netns(8): "Holding that file descriptor open keeps the network namespace alive." The same
// holds for a bind mount of the nsfs file (how `ip netns add` names a netns) and, per
// SEMANTICS.md B4.2, for any socket created in the netns. Each case: a process is the last task
// in the netns and exits; the holder must keep the netns (and a veth inside) alive and usable;
// dropping the holder must free it, observed by RTM_DELLINK of the veth peer in an observer netns.
#include <fcntl.h>
#include <linux/rtnetlink.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

#include "fixtures/case_registry.h"
#include "fixtures/child.h"
#include "fixtures/netlink.h"
#include "fixtures/netns.h"
#include "fixtures/syscall_matchers.h"

namespace conform {
namespace {

using std::chrono::seconds;
constexpr auto kTeardownDeadline = seconds(10);

// A netns whose only process is about to exit, with veth va inside and its peer vb in an observer.
struct DoomedNetns {
  FileDescriptor observer = CreateNetns();
  NetnsHolderProcess holder;
  FileDescriptor fd{open(holder.NetnsPath().c_str(), O_RDONLY | O_CLOEXEC)};
  NetnsIdentity identity;
  int vb_ifindex = 0;

  DoomedNetns() {
    if (!fd) throw SystemError("open " + holder.NetnsPath(), errno);
    identity = IdentifyNetns(fd.get());
    RouteClient(fd.get()).CreateVeth("va", "vb", observer.get());
    auto vb = RouteClient(observer.get()).GetLink("vb");
    if (!vb) throw std::runtime_error("veth peer vb missing in the observer netns");
    vb_ifindex = vb->ifindex;
  }
};

// Proves the netns behind `handle` (an nsfs fd) is alive and still the same one: setns through it
// works, lands in the same netns, and sees the veth end created there.
void ExpectAliveThrough(int handle, const DoomedNetns& d) {
  NetnsIdentity entered;
  bool has_va = false;
  long rc = -1;
  int err = 0;
  RunInNetns(OpenCurrentNetns().get(), [&] {
    rc = setns(handle, CLONE_NEWNET);
    err = errno;
    if (rc != 0) return;
    entered = CurrentNetnsIdentity();
    has_va = RouteClient().GetLink("va").has_value();
  });
  EXPECT_THAT((SyscallResult{rc, err}), SyscallSucceeds()) << "setns through the holder";
  EXPECT_EQ(entered, d.identity);
  EXPECT_TRUE(has_va) << "the veth end inside the kept netns is gone";
  EXPECT_TRUE(RouteClient(d.observer.get()).GetLink("vb").has_value())
      << "the peer in the observer netns is gone";
}

// Control for the cases below: with no holder, the exit of the last process frees the netns.
NETNS_TEST(KeepAlive, NoHolderMeansFreedAtLastExit, "netns7.freed-when-last-process-exits",
           .kconfigs = {"CONFIG_VETH"}) {
  DoomedNetns d;
  EventWatcher watcher(d.observer.get(), {RTNLGRP_LINK});
  d.fd.reset();
  d.holder.Release();
  EXPECT_TRUE(watcher.WaitLinkDeleted(d.vb_ifindex, kTeardownDeadline));
}

NETNS_TEST(KeepAlive, OpenNsfsFdKeepsNetnsAlive, "ipnetns8.open-fd-keeps-netns-alive",
           .kconfigs = {"CONFIG_VETH"}) {
  DoomedNetns d;
  d.holder.Release();  // the last process is gone; only d.fd holds the netns
  ExpectAliveThrough(d.fd.get(), d);

  EventWatcher watcher(d.observer.get(), {RTNLGRP_LINK});
  d.fd.reset();
  EXPECT_TRUE(watcher.WaitLinkDeleted(d.vb_ifindex, kTeardownDeadline))
      << "closing the last fd must free the netns";
}

NETNS_TEST(KeepAlive, NsfsBindMountKeepsNetnsAlive, "ipnetns8.bind-mount-keeps-netns-alive",
           .kconfigs = {"CONFIG_VETH"}) {
  DoomedNetns d;
  // /run/netns is a private tmpfs of this case's sandbox.
  const std::string name = "/run/netns/keepalive-" + std::to_string(getpid());
  ASSERT_TRUE(
      FileDescriptor(open(name.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0)).valid())
      << name << ": " << ErrnoName(errno);
  Cleanup unlink_name([&] { unlink(name.c_str()); });
  ASSERT_THAT(mount(d.holder.NetnsPath().c_str(), name.c_str(), nullptr, MS_BIND, nullptr),
              SyscallSucceeds());
  Cleanup unmount([&] { umount2(name.c_str(), MNT_DETACH); });
  d.fd.reset();
  d.holder.Release();  // neither a process nor an fd: only the bind mount holds it

  {
    FileDescriptor reopened(open(name.c_str(), O_RDONLY | O_CLOEXEC));
    ASSERT_TRUE(reopened.valid()) << name << ": " << ErrnoName(errno);
    ExpectAliveThrough(reopened.get(), d);
  }

  EventWatcher watcher(d.observer.get(), {RTNLGRP_LINK});
  ASSERT_THAT(umount2(name.c_str(), MNT_DETACH), SyscallSucceeds());
  unmount.release();
  EXPECT_TRUE(watcher.WaitLinkDeleted(d.vb_ifindex, kTeardownDeadline))
      << "unmounting the last bind mount must free the netns";
}

NETNS_TEST(KeepAlive, OpenSocketKeepsNetnsAlive, "sem.B4.2.socket-keeps-netns-alive",
           .kconfigs = {"CONFIG_VETH"}) {
  DoomedNetns d;
  FileDescriptor sock;
  RunInNetns(d.fd.get(), [&] { sock.reset(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)); });
  ASSERT_TRUE(sock.valid()) << ErrnoName(errno);
  d.fd.reset();
  d.holder.Release();  // only the UDP socket holds the netns

  // SIOCGSKNS (B4.5) hands back an fd to the socket's netns: the one that must still be alive.
  {
    FileDescriptor via_socket(ioctl(sock.get(), SIOCGSKNS));
    ASSERT_TRUE(via_socket.valid()) << "SIOCGSKNS: " << ErrnoName(errno);
    ExpectAliveThrough(via_socket.get(), d);
  }

  EventWatcher watcher(d.observer.get(), {RTNLGRP_LINK});
  sock.reset();
  EXPECT_TRUE(watcher.WaitLinkDeleted(d.vb_ifindex, kTeardownDeadline))
      << "closing the last socket must free the netns";
}

}  // namespace
}  // namespace conform
