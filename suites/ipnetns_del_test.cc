// ip-netns(8), SEMANTICS.md §8. `delete`: unmount and remove the name, the netns living
// on while a process or an fd holds it, reaching other mount namespaces through the shared run
// folder, `-all delete`, a missing name, and a physical device's way back to the default netns
// (ipnetns8.del.*, sem.B8.2).
// Exercised through the reference implementation (fixtures/ref, conform::ref) and raw syscalls,
// so that each case shows the kernel supports the convention it names. The sandbox these cases
// need and the helpers they share: suites/ipnetns_helpers.h.

#include <fcntl.h>
#include <linux/magic.h>
#include <linux/net_namespace.h>
#include <linux/nsfs.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "fixtures/case_registry.h"
#include "fixtures/child.h"
#include "fixtures/mountinfo.h"
#include "fixtures/netlink.h"
#include "fixtures/netns.h"
#include "fixtures/ref/ref_netns.h"
#include "fixtures/ref/run_dir.h"
#include "fixtures/refund_device.h"
#include "fixtures/syscall_matchers.h"
#include "suites/ipnetns_helpers.h"

namespace conform {
namespace {

using namespace ipnetns;  // the helpers every ip-netns(8) suite shares
using std::chrono::milliseconds;

// "shared:N" of a mount's propagation fields, "" when it is not shared.
std::string PeerGroup(const std::string& optional_fields) {
  std::istringstream in(optional_fields);
  for (std::string word; in >> word;)
    if (word.rfind("shared:", 0) == 0) return word;
  return "";
}

// =====================================================================================
// delete
// =====================================================================================

NETNS_TEST(IpNetnsDel, DeleteUnmountsAndRemovesTheName, "ipnetns8.del.umounts-and-removes") {
  REQUIRE_SANDBOX();
  Scratch s;
  ref::Add(s.options, "a");
  ref::Add(s.options, "b");
  ASSERT_EQ(MountsAt(s.Path("a")).size(), 1u);
  ref::Delete(s.options, "a");
  EXPECT_THAT(MountsAt(s.Path("a")), IsEmpty()) << "the bind mount is still there";
  EXPECT_FALSE(Exists(s.Path("a"))) << "the mount point was not removed";
  EXPECT_TRUE(IsNsfs(s.Path("b"))) << "another name was touched";
  EXPECT_EQ(MountsAt(s.Path("b")).size(), 1u);
  // A name is added again after its delete.
  EXPECT_NO_THROW(ref::Add(s.options, "a"));
  // Edge: a file in the folder that was never bound (nothing to unmount) is removed too.
  ASSERT_TRUE(WriteText(s.Path("plain"), ""));
  EXPECT_NO_THROW(ref::Delete(s.options, "plain"));
  EXPECT_FALSE(Exists(s.Path("plain")));
}

NETNS_TEST(IpNetnsDel, DeletingTheLastUserFreesTheNetns, "ipnetns8.del.last-user-frees-netns",
           .kconfigs = {"CONFIG_VETH"}) {
  REQUIRE_SANDBOX();
  Scratch s;
  ref::Add(s.options, "a");
  Witness witness(s.Open("a").get());
  ASSERT_THAT(ref::Pids(s.options, "a"), IsEmpty()) << "control: the name is the only user";
  ASSERT_TRUE(witness.PeerExists());
  EventWatcher watcher(witness.observer.get(), {RTNLGRP_LINK});
  ref::Delete(s.options, "a");
  EXPECT_TRUE(watcher.WaitLinkDeleted(witness.vb_ifindex, kDeadline))
      << "deleting the last user's name did not free the netns";
}

NETNS_TEST(IpNetnsDel, NetnsPersistsWhileAProcessIsInside, "ipnetns8.del.persists-while-users",
           .kconfigs = {"CONFIG_VETH"}) {
  REQUIRE_SANDBOX();
  Scratch s;
  ref::Add(s.options, "a");
  const std::string a = s.Identity("a");
  Witness witness(s.Open("a").get());
  std::optional<NetnsHolderProcess> inside;
  inside.emplace(s.Open("a").get());
  const pid_t pid = inside->pid();
  EventWatcher watcher(witness.observer.get(), {RTNLGRP_LINK});

  ref::Delete(s.options, "a");  // ip: exits 0 although a process is inside
  EXPECT_FALSE(Exists(s.Path("a")));
  EXPECT_EQ(IdentityOf(ProcNet(pid)), a) << "the process left the netns";
  EXPECT_TRUE(HasVa(ProcNet(pid))) << "the netns lost its devices while a process is inside";
  EXPECT_TRUE(witness.PeerExists());
  EXPECT_FALSE(watcher.WaitLinkDeleted(witness.vb_ifindex, milliseconds(0)))
      << "the netns was freed with a process inside";

  inside.reset();  // the last user goes
  EXPECT_TRUE(watcher.WaitLinkDeleted(witness.vb_ifindex, kDeadline))
      << "the netns outlived its last user";
}

NETNS_TEST(IpNetnsDel, NetnsPersistsWhileAnFdIsOpen, "ipnetns8.del.persists-while-users",
           .kconfigs = {"CONFIG_VETH"}) {
  REQUIRE_SANDBOX();
  Scratch s;
  ref::Add(s.options, "a");
  Witness witness(s.Open("a").get());
  FileDescriptor held = s.Open("a");
  const std::string held_path = "/proc/self/fd/" + std::to_string(held.get());
  EventWatcher watcher(witness.observer.get(), {RTNLGRP_LINK});
  ref::Delete(s.options, "a");
  EXPECT_TRUE(HasVa(held_path)) << "the netns behind an open fd lost its devices";
  EXPECT_TRUE(witness.PeerExists());
  held.reset();
  EXPECT_TRUE(watcher.WaitLinkDeleted(witness.vb_ifindex, kDeadline));
}

constexpr const char* kMayFail = "ipnetns8.del.may-fail-mount-in-use";

// The run folder is shared so that del's unmount propagates to every mount namespace copied
// from this one: the copy's mount goes too, and the netns is freed.
NETNS_TEST(IpNetnsDel, SharedRunFolderLetsDelReachOtherMountNamespaces, kMayFail,
           .kconfigs = {"CONFIG_VETH"}) {
  REQUIRE_SANDBOX();
  Scratch s;
  ref::Add(s.options, "a");
  Witness witness(s.Open("a").get());
  FileDescriptor other = CopyMountNamespace(/*private_copy=*/false);
  std::string error;
  auto copy = MountsAtIn(other.get(), s.Path("a"), &error);
  ASSERT_EQ(copy.size(), 1u) << error;
  // Its copy of the name is a peer of ours: del's unmount reaches it by propagation (unlink's
  // detaching of other namespaces' mounts, Linux 3.18+, is not what this relies on).
  auto ours = MountsAt(s.Path("a"));
  ASSERT_EQ(ours.size(), 1u);
  EXPECT_NE(PeerGroup(ours[0].optional_fields), "") << "the name is not a shared mount";
  EXPECT_EQ(PeerGroup(copy[0].optional_fields), PeerGroup(ours[0].optional_fields))
      << "the other mount namespace's copy is not a peer of the name";
  EventWatcher watcher(witness.observer.get(), {RTNLGRP_LINK});

  EXPECT_NO_THROW(ref::Delete(s.options, "a"));
  EXPECT_FALSE(Exists(s.Path("a")));
  EXPECT_THAT(MountsAtIn(other.get(), s.Path("a"), &error), IsEmpty())
      << "the other mount namespace still holds the name " << error;
  EXPECT_TRUE(watcher.WaitLinkDeleted(witness.vb_ifindex, kDeadline))
      << "the netns outlived del: a mount in the other mount namespace holds it";
}

// A copy with private propagation still holds the bind mount after del's unmount. ip-netns(8):
// del "may fail". Since Linux 3.18, unlink of a file that is a mount point only in *other* mount
// namespaces succeeds and detaches those mounts (vfs_unlink: detach_mounts): then del must leave
// nothing behind. Either outcome conforms; a del that succeeds while the netns lives on hidden in
// the other namespace does not.
NETNS_TEST(IpNetnsDel, PrivateCopyInAnotherMountNamespace, kMayFail, .kconfigs = {"CONFIG_VETH"}) {
  REQUIRE_SANDBOX();
  Scratch s;
  ref::Add(s.options, "a");
  Witness witness(s.Open("a").get());
  FileDescriptor other = CopyMountNamespace(/*private_copy=*/true);
  std::string error;
  auto copy = MountsAtIn(other.get(), s.Path("a"), &error);
  ASSERT_EQ(copy.size(), 1u) << error;
  ASSERT_EQ(PeerGroup(copy[0].optional_fields), "") << "control: the copy is private";
  EventWatcher watcher(witness.observer.get(), {RTNLGRP_LINK});

  auto failure = RefErrorOf([&] { ref::Delete(s.options, "a"); });
  if (failure) {
    ::testing::Test::RecordProperty("outcome", "del failed");
    EXPECT_EQ(failure->err(), EBUSY) << failure->what();
    EXPECT_TRUE(Exists(s.Path("a"))) << "a failed del removed the name";
    EXPECT_TRUE(witness.PeerExists());
  } else {
    ::testing::Test::RecordProperty("outcome", "del succeeded, other namespace detached");
    EXPECT_FALSE(Exists(s.Path("a")));
    EXPECT_THAT(MountsAtIn(other.get(), s.Path("a"), &error), IsEmpty())
        << "del succeeded but the other mount namespace still holds the netns " << error;
    EXPECT_TRUE(watcher.WaitLinkDeleted(witness.vb_ifindex, kDeadline))
        << "del succeeded but the netns lives on in the other mount namespace";
  }
}

NETNS_TEST(IpNetnsDel, AllRemovesEveryName, "ipnetns8.del.all-removes-every-name",
           .kconfigs = {"CONFIG_VETH"}) {
  REQUIRE_SANDBOX();
  Scratch s, elsewhere;
  FileDescriptor observer = CreateNetns();
  std::vector<int> peers;
  for (const std::string name : {"a", "b", "c"}) {
    ref::Add(s.options, name);
    const std::string peer = "p" + name;
    RouteClient(observer.get()).CreateVeth(peer, "va", s.Open(name).get());
    peers.push_back(RouteClient(observer.get()).GetLink(peer)->ifindex);
  }
  ref::Add(elsewhere.options, "kept");
  EventWatcher watcher(observer.get(), {RTNLGRP_LINK});

  EXPECT_NO_THROW(ref::DeleteAll(s.options));
  EXPECT_THAT(ref::ReadNames(s.options.run_dir), IsEmpty());
  for (const char* name : {"a", "b", "c"}) EXPECT_THAT(MountsAt(s.Path(name)), IsEmpty()) << name;
  std::set<int> freed;
  for (size_t i = 0; i < peers.size(); ++i) {
    auto gone = watcher.WaitLink(
        [&](const LinkEvent& e) {
          return e.type == RTM_DELLINK &&
                 std::find(peers.begin(), peers.end(), e.link.ifindex) != peers.end() &&
                 !freed.count(e.link.ifindex);
        },
        kDeadline);
    ASSERT_TRUE(gone.has_value()) << "only " << freed.size() << " of 3 netns were freed";
    freed.insert(gone->link.ifindex);
  }
  EXPECT_TRUE(IsNsfs(elsewhere.Path("kept"))) << "-all del reached another run folder";
  // The command spelling, and a missing folder that holds no names.
  ref::Add(s.options, "d");
  CliResult cli = RunRefCommand(s, {"-all", "del"});
  EXPECT_EQ(cli.exit_code, 0) << cli.Describe();
  EXPECT_THAT(ref::ReadNames(s.options.run_dir), IsEmpty());
  ref::Options missing = s.options;
  missing.run_dir = s.options.run_dir + "-missing";
  EXPECT_NO_THROW(ref::DeleteAll(missing));
}

constexpr const char* kDelMissing = "sem.B8.2.del-missing-name-fails";

NETNS_TEST(IpNetnsDel, DeleteOfAMissingNameFails, kDelMissing) {
  REQUIRE_SANDBOX();
  Scratch s;
  ref::Add(s.options, "a");
  auto error = RefErrorOf([&] { ref::Delete(s.options, "nope"); });
  ASSERT_TRUE(error.has_value()) << "del of a missing name succeeded";
  EXPECT_EQ(error->err(), ENOENT) << error->what();
  EXPECT_EQ(error->exit_code(), 1);
  EXPECT_TRUE(IsNsfs(s.Path("a"))) << "a failed del touched another name";
  ref::Delete(s.options, "a");
  auto twice = RefErrorOf([&] { ref::Delete(s.options, "a"); });
  ASSERT_TRUE(twice.has_value()) << "a second del of one name succeeded";
  EXPECT_EQ(twice->err(), ENOENT);
  // An invalid name never reaches outside the folder.
  ASSERT_TRUE(WriteText(s.options.run_dir + "-outside", ""));
  Cleanup outside([&] { unlink((s.options.run_dir + "-outside").c_str()); });
  const std::string base = s.options.run_dir.substr(s.options.run_dir.rfind('/') + 1);
  EXPECT_TRUE(RefErrorOf([&] { ref::Delete(s.options, "../" + base + "-outside"); }).has_value());
  EXPECT_TRUE(Exists(s.options.run_dir + "-outside")) << "del removed a file outside the folder";
  // The command.
  CliResult cli = RunRefCommand(s, {"del", "nope"});
  EXPECT_EQ(cli.exit_code, 1) << cli.Describe();
  EXPECT_THAT(cli.err, HasSubstr("nope")) << cli.Describe();
}

// ---- physical devices (need a refundable device: a lent NIC, or netdevsim in the VM) -----------

// The lent device moved into a name `net0` made by the reference: the set-up of the cases below.
// Members go in reverse order: the scratch run folder first, then the name is restored, then the
// device and the turn are given back.
struct DeviceInNet0 {
  DeviceTurn turn;
  RefundableDevice device = RefundableDevice::Acquire();
  RouteClient init{device.init_netns()};
  std::optional<LinkInfo> before = init.GetLink(device.name());
  Cleanup restore = RestoreName(init, device.name(), before ? before->ifindex : 0);
  Scratch s;

  // Adds net0 and moves the device there; false (with a failure recorded) when it is not in the
  // initial netns to begin with.
  bool Setup() {
    if (!before) {
      ADD_FAILURE() << device.name() << " is not in the initial netns";
      return false;
    }
    ref::Add(s.options, "net0");
    init.MoveToNetns(before->ifindex, s.Open("net0").get());
    return true;
  }
};

NETNS_TEST(IpNetnsDel, PhysicalDeviceMovesToTheDefaultNetnsOnDel,
           "ipnetns8.del.physdev-moved-to-default", .refundable_device = true) {
  REQUIRE_SANDBOX();
  DeviceInNet0 d;
  ASSERT_TRUE(d.Setup());
  RefundableDevice& device = d.device;
  RouteClient& init = d.init;
  Scratch& s = d.s;
  ASSERT_FALSE(init.GetLink(device.name()).has_value());
  ASSERT_TRUE(RouteClient(s.Open("net0").get()).GetLink(device.name()).has_value());
  EventWatcher watcher(device.init_netns(), {RTNLGRP_LINK});

  ref::Delete(s.options, "net0");

  ASSERT_TRUE(watcher.WaitLinkAppeared(device.name(), kDeadline))
      << device.name() << " did not come back to the default netns";
  EXPECT_TRUE(init.GetLink(device.name()).has_value());
  EXPECT_FALSE(RouteClient().GetLink(device.name()).has_value())
      << "it went to the caller's netns, not the default (initial) one";
}

constexpr const char* kPhysdevHeld = "ipnetns8.del.physdev-held-by-running-process";

NETNS_TEST(IpNetnsDel, PhysicalDeviceStaysAwayWhileAProcessRunsInside, kPhysdevHeld,
           .refundable_device = true) {
  REQUIRE_SANDBOX();
  DeviceInNet0 d;
  ASSERT_TRUE(d.Setup());
  RefundableDevice& device = d.device;
  RouteClient& init = d.init;
  Scratch& s = d.s;
  std::optional<NetnsHolderProcess> background;  // SOME_PROCESS_IN_BACKGROUND
  background.emplace(s.Open("net0").get());
  const std::string inside = ProcNet(background->pid());
  EventWatcher watcher(device.init_netns(), {RTNLGRP_LINK});

  ref::Delete(s.options, "net0");
  EXPECT_FALSE(Exists(s.Path("net0")));
  EXPECT_FALSE(init.GetLink(device.name()).has_value())
      << "the device came back while a process is still inside";
  {
    FileDescriptor fd = OpenPath(inside);
    ASSERT_TRUE(fd.valid());
    EXPECT_TRUE(RouteClient(fd.get()).GetLink(device.name()).has_value())
        << "the device is neither in the netns nor back";
  }
  EXPECT_FALSE(watcher.WaitLinkAppeared(device.name(), milliseconds(0)));

  background.reset();  // the process exits: only now the device appears in the default netns
  EXPECT_TRUE(watcher.WaitLinkAppeared(device.name(), kDeadline))
      << device.name() << " did not come back after the last process exited";
}

// The man page's remedy: `ip netns pids net0 | xargs kill; ip netns del net0`.
NETNS_TEST(IpNetnsDel, KillingThePidsBeforeDelBringsTheDeviceBack, kPhysdevHeld,
           .refundable_device = true) {
  REQUIRE_SANDBOX();
  DeviceInNet0 d;
  ASSERT_TRUE(d.Setup());
  RefundableDevice& device = d.device;
  RouteClient& init = d.init;
  Scratch& s = d.s;
  NetnsHolderProcess first(s.Open("net0").get()), second(s.Open("net0").get());
  EventWatcher watcher(device.init_netns(), {RTNLGRP_LINK});

  const auto pids = ref::Pids(s.options, "net0");
  ASSERT_THAT(pids, UnorderedElementsAre(first.pid(), second.pid()));
  for (pid_t pid : pids) EXPECT_THAT(kill(pid, SIGKILL), SyscallSucceeds());
  ref::Delete(s.options, "net0");

  EXPECT_TRUE(watcher.WaitLinkAppeared(device.name(), kDeadline))
      << device.name() << " did not come back after pids were killed and the name deleted";
  EXPECT_TRUE(init.GetLink(device.name()).has_value());
}

}  // namespace
}  // namespace conform
