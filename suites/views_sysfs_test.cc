// /sys/class/net per netns. network_namespaces(7) ¶1: isolated is "the /sys/class/net directory";
// SEMANTICS.md B6.2: a sysfs mount shows the netns of its mounter, mounting needs CAP_SYS_ADMIN
// over the netns's owner, and attributes are owned by the owner's root at registration.
//
// Host safety: sysfs is mounted only inside a child process's own mount namespace, on a
// directory of the sandbox's private /tmp.

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

std::optional<std::string> ReadFile(const std::string& path) { return ReadTextFile(path); }
// Sorted entries of a directory (without . and ..); "!ERRNAME" when it cannot be read.
std::string ListDir(const std::string& path) {
  DIR* dir = opendir(path.c_str());
  if (!dir) return "!" + ErrnoName(errno);
  std::vector<std::string> names;
  while (dirent* entry = readdir(dir)) {
    std::string name = entry->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  closedir(dir);
  std::sort(names.begin(), names.end());
  std::string joined;
  for (const auto& name : names) joined += (joined.empty() ? "" : ",") + name;
  return joined;
}

// A veth pair va/vb inside netns_fd.
void MakeVeth(int netns_fd) { RouteClient(netns_fd).CreateVeth("va", "vb"); }
// A directory on the sandbox's private /tmp, removed at the end of the scope.
struct TempDir {
  std::string path;
  TempDir() {
    char name[] = "/tmp/netns-conform-views-XXXXXX";
    if (!mkdtemp(name)) throw SystemError("mkdtemp", errno);
    path = name;
    chmod(path.c_str(), 0755);  // a mount point for user-namespace children too
  }
  ~TempDir() { rmdir(path.c_str()); }
};

// Flags a new sysfs mount needs so as not to be "more revealing" than the /sys already there
// (a user-namespace mount must keep the locked nosuid/nodev/noexec/ro flags).
unsigned long SysfsMountFlags() {
  unsigned long flags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
  struct statvfs st {};
  if (statvfs("/sys", &st) == 0 && (st.f_flag & ST_RDONLY)) flags |= MS_RDONLY;
  return flags;
}

// In a child: a private mount namespace of its own (the mounts below never reach the sandbox).
void PrivateMountNamespace() {
  CheckSyscall(unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)");
  CheckSyscall(mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr), "make / private");
}

long MountSysfs(const std::string& where) {
  return mount("sysfs", where.c_str(), "sysfs", SysfsMountFlags(), nullptr);
}
// ---------------------------------------------------------------------------------------------
// /sys/class/net

NETNS_TEST(Sysfs, FreshMountListsOnlyItsNetnsDevices, "netns7.isolation.sys-class-net",
           .kconfigs = {"CONFIG_VETH"}) {
  FileDescriptor a = CreateNetns(), b = CreateNetns();
  MakeVeth(a.get());
  TempDir dir_a, dir_b;
  auto child = RunInChild({}, [&](ChildChannel& ch) {
    PrivateMountNamespace();
    CheckSyscall(setns(a.get(), CLONE_NEWNET), "setns(A)");
    ch.Record("mount-in-a", MountSysfs(dir_a.path));
    CheckSyscall(setns(b.get(), CLONE_NEWNET), "setns(B)");
    ch.Record("mount-in-b", MountSysfs(dir_b.path));
    ch.Note("a", ListDir(dir_a.path + "/class/net"));
    ch.Note("b", ListDir(dir_b.path + "/class/net"));
    ch.Note("sandbox", ListDir("/sys/class/net"));
  });
  ASSERT_TRUE(child.Ok()) << child.Describe();
  ASSERT_THAT(child.Call("mount-in-a"), SyscallSucceeds());
  ASSERT_THAT(child.Call("mount-in-b"), SyscallSucceeds());
  EXPECT_EQ(child.notes["a"], "lo,va,vb") << "control: a sysfs mounted in A shows A's devices";
  EXPECT_EQ(child.notes["b"], "lo") << "a sysfs mounted in B must not show A's devices";
  EXPECT_EQ(child.notes["sandbox"].find("va"), std::string::npos)
      << "the sandbox's own /sys/class/net shows A's devices: " << child.notes["sandbox"];
}

NETNS_TEST(Sysfs, MountKeepsMounterNetnsAfterUnshare, "sem.B6.2.sysfs-shows-mounter-netns",
           .kconfigs = {"CONFIG_VETH"}) {
  FileDescriptor a = CreateNetns();
  MakeVeth(a.get());
  const int va = RouteClient(a.get()).GetLink("va")->ifindex;
  TempDir first, second;
  auto child = RunInChild({}, [&](ChildChannel& ch) {
    PrivateMountNamespace();
    CheckSyscall(setns(a.get(), CLONE_NEWNET), "setns(A)");
    ch.Record("mount-in-a", MountSysfs(first.path));
    ch.Note("before", ListDir(first.path + "/class/net"));
    ch.Record("unshare", unshare(CLONE_NEWNET));
    ch.Note("after", ListDir(first.path + "/class/net"));
    auto ifindex = ReadFile(first.path + "/class/net/va/ifindex").value_or("missing");
    ch.Note("va-ifindex", ifindex.substr(0, ifindex.find('\n')));
    ch.Record("mount-fresh", MountSysfs(second.path));
    ch.Note("fresh", ListDir(second.path + "/class/net"));
  });
  ASSERT_TRUE(child.Ok()) << child.Describe();
  ASSERT_THAT(child.Call("mount-in-a"), SyscallSucceeds());
  ASSERT_THAT(child.Call("unshare"), SyscallSucceeds());
  ASSERT_THAT(child.Call("mount-fresh"), SyscallSucceeds());
  EXPECT_EQ(child.notes["before"], "lo,va,vb");
  EXPECT_EQ(child.notes["after"], "lo,va,vb")
      << "after unshare the existing mount must still show the mounter's netns";
  EXPECT_EQ(child.notes["va-ifindex"], std::to_string(va)) << "the attributes are A's too";
  EXPECT_EQ(child.notes["fresh"], "lo") << "a fresh mount shows the new netns";
}

NETNS_TEST(Sysfs, MountNeedsCapOverNetnsOwner, "sem.B6.2.sysfs-mount-needs-cap-over-netns",
           .kconfigs = {"CONFIG_USER_NS"}) {
  TempDir dir;
  // Root of a new user namespace with a mount namespace of its own, still in a netns owned by
  // the initial user namespace: refused. The same call after unshare(CLONE_NEWNET): allowed.
  auto child = RunInChild({.uid = kNobodyUid, .new_user_ns = true}, [&](ChildChannel& ch) {
    PrivateMountNamespace();
    ch.Record("mount-foreign-netns", MountSysfs(dir.path));
    ch.Record("unshare", unshare(CLONE_NEWNET));
    ch.Record("mount-own-netns", MountSysfs(dir.path));
    ch.Note("listing", ListDir(dir.path + "/class/net"));
  });
  ASSERT_TRUE(child.Ok()) << child.Describe();
  EXPECT_THAT(child.Call("mount-foreign-netns"), SyscallFailsWithErrno(EPERM));
  ASSERT_THAT(child.Call("unshare"), SyscallSucceeds());
  EXPECT_THAT(child.Call("mount-own-netns"), SyscallSucceeds())
      << "control: same flags, same place, own netns";
  EXPECT_EQ(child.notes["listing"], "lo");
}

// As nobody: unshare(CLONE_NEWUSER|CLONE_NEWNET) in one step registers lo before the uid map is
// written, so lo's attributes keep global root (unmapped inside: the overflow uid); a veth made
// after the map belongs to the namespace's root (0 inside). With the map written first, lo
// belongs to the namespace's root too.
NETNS_TEST(Sysfs, AttributesOwnedByOwnerRootAtRegistration, "sem.B6.2.sysfs-attribute-ownership",
           .kconfigs = {"CONFIG_USER_NS", "CONFIG_VETH"}) {
  const auto overflow = ReadFile("/proc/sys/kernel/overflowuid");
  ASSERT_TRUE(overflow.has_value());
  const std::string overflow_uid = std::to_string(std::stoul(*overflow));
  TempDir dir_one_step, dir_map_first;
  auto uid_of = [](const std::string& path) {
    struct stat st {};
    return stat(path.c_str(), &st) == 0 ? std::to_string(st.st_uid) : "!" + ErrnoName(errno);
  };
  auto write_file = [](const std::string& path, const std::string& text) {
    FileDescriptor f(open(path.c_str(), O_WRONLY | O_CLOEXEC));
    if (!f || write(f.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()))
      throw SystemError("write " + path, errno);
  };

  auto one_step = RunInChild({.uid = kNobodyUid}, [&](ChildChannel& ch) {
    CheckSyscall(unshare(CLONE_NEWUSER | CLONE_NEWNET), "unshare(CLONE_NEWUSER|CLONE_NEWNET)");
    write_file("/proc/self/setgroups", "deny");
    write_file("/proc/self/uid_map", "0 " + std::to_string(kNobodyUid) + " 1");
    write_file("/proc/self/gid_map", "0 " + std::to_string(kNogroupGid) + " 1");
    PrivateMountNamespace();
    ch.Record("mount", MountSysfs(dir_one_step.path));
    ch.Note("lo", uid_of(dir_one_step.path + "/class/net/lo/mtu"));
    RouteClient().CreateVeth("va", "vb");
    ch.Note("va", uid_of(dir_one_step.path + "/class/net/va/mtu"));
  });
  ASSERT_TRUE(one_step.Ok()) << one_step.Describe();
  ASSERT_THAT(one_step.Call("mount"), SyscallSucceeds());
  EXPECT_EQ(one_step.notes["lo"], overflow_uid)
      << "lo was registered before the map: owned by unmapped global root";
  EXPECT_EQ(one_step.notes["va"], "0") << "va was registered after the map: the namespace's root";

  auto map_first = RunInChild({.uid = kNobodyUid, .new_user_ns = true}, [&](ChildChannel& ch) {
    CheckSyscall(unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)");
    PrivateMountNamespace();
    ch.Record("mount", MountSysfs(dir_map_first.path));
    ch.Note("lo", uid_of(dir_map_first.path + "/class/net/lo/mtu"));
  });
  ASSERT_TRUE(map_first.Ok()) << map_first.Describe();
  ASSERT_THAT(map_first.Call("mount"), SyscallSucceeds());
  EXPECT_EQ(map_first.notes["lo"], "0") << "control: with the map written first lo is root's";
}

}  // namespace
}  // namespace conform
