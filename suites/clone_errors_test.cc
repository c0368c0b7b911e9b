// clone(2) CLONE_NEWNET: "Use of this flag requires: a kernel configured with the CONFIG_NET_NS
// option and that the process be privileged (CAP_SYS_ADMIN)"; EPERM for a process without
// CAP_SYS_ADMIN, EINVAL when the kernel lacks CONFIG_NET_NS. setns(2) and the user-namespace
// quota follow SEMANTICS.md B4.3, B5.1, B5.3.
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "fixtures/case_registry.h"
#include "fixtures/child.h"
#include "fixtures/netns.h"
#include "fixtures/probe.h"
#include "fixtures/syscall_matchers.h"

namespace conform {
namespace {

constexpr const char* kEpermClause = "clone2.newnet.eperm-without-cap-sys-admin";
constexpr const char* kSetnsClause = "sem.B4.3.setns-errors";

// clone(2) through the raw syscall, as a fork: the child exits at once. Returns the parent's view.
long RawCloneAndReap(unsigned long flags) {
  long pid = syscall(SYS_clone, flags | SIGCHLD, nullptr, nullptr, nullptr, 0);
  if (pid == 0) _exit(0);
  if (pid > 0) waitpid(static_cast<pid_t>(pid), nullptr, 0);
  return pid;
}

long Clone3AndReap(unsigned long long flags) {
  clone_args args{};
  args.flags = flags;
  args.exit_signal = SIGCHLD;
  long pid = syscall(SYS_clone3, &args, sizeof(args));
  if (pid == 0) _exit(0);
  if (pid > 0) waitpid(static_cast<pid_t>(pid), nullptr, 0);
  return pid;
}

// Records unshare/clone/clone3 with `flags` in the child, each starting from the same netns.
void TryAllThree(ChildChannel& ch, unsigned long flags) {
  ch.Record("clone", RawCloneAndReap(flags));
  ch.Record("clone3", Clone3AndReap(flags));
  ch.Record("unshare", unshare(static_cast<int>(flags)));
}

NETNS_TEST(CloneErrors, NewnetAsUnprivilegedUserIsEperm, kEpermClause) {
  auto child =
      RunInChild({.uid = kNobodyUid}, [](ChildChannel& ch) { TryAllThree(ch, CLONE_NEWNET); });
  ASSERT_TRUE(child.Ok()) << child.Describe();
  EXPECT_THAT(child.Call("unshare"), SyscallFailsWithErrno(EPERM));
  EXPECT_THAT(child.Call("clone"), SyscallFailsWithErrno(EPERM));
  EXPECT_THAT(child.Call("clone3"), SyscallFailsWithErrno(EPERM));
}

// uid 0 is not what counts: the capability is.
NETNS_TEST(CloneErrors, NewnetAsRootWithoutCapabilitiesIsEperm, kEpermClause) {
  auto child = RunInChild({.drop_all_caps = true}, [](ChildChannel& ch) {
    ch.Note("euid", std::to_string(geteuid()));
    TryAllThree(ch, CLONE_NEWNET);
  });
  ASSERT_TRUE(child.Ok()) << child.Describe();
  EXPECT_EQ(child.notes["euid"], "0");
  EXPECT_THAT(child.Call("unshare"), SyscallFailsWithErrno(EPERM));
  EXPECT_THAT(child.Call("clone"), SyscallFailsWithErrno(EPERM));
  EXPECT_THAT(child.Call("clone3"), SyscallFailsWithErrno(EPERM));
}

// Control for the EPERM cases: with CAP_SYS_ADMIN the same calls succeed.
NETNS_TEST(CloneErrors, NewnetWithCapSysAdminSucceeds, "clone2.newnet.creates-new-netns") {
  auto child = RunInChild({}, [](ChildChannel& ch) {
    struct stat before {
    }, after{};
    stat("/proc/thread-self/ns/net", &before);
    TryAllThree(ch, CLONE_NEWNET);
    stat("/proc/thread-self/ns/net", &after);
    ch.Note("moved", before.st_ino != after.st_ino ? "yes" : "no");
  });
  ASSERT_TRUE(child.Ok()) << child.Describe();
  EXPECT_THAT(child.Call("unshare"), SyscallSucceeds());
  EXPECT_THAT(child.Call("clone"), SyscallSucceeds());
  EXPECT_THAT(child.Call("clone3"), SyscallSucceeds());
  EXPECT_EQ(child.notes["moved"], "yes") << "unshare(CLONE_NEWNET) must change the caller's netns";
}

// B5.1: with CLONE_NEWUSER the capability is checked in the new user namespace, where the
// unprivileged caller is root.
NETNS_TEST(CloneErrors, NewuserPlusNewnetSucceedsUnprivileged, "sem.B5.1.newuser-grants-newnet") {
  auto child = RunInChild({.uid = kNobodyUid}, [](ChildChannel& ch) {
    struct stat before {
    }, after{};
    stat("/proc/thread-self/ns/net", &before);
    ch.Record("clone3", Clone3AndReap(CLONE_NEWUSER | CLONE_NEWNET));
    ch.Record("unshare", unshare(CLONE_NEWUSER | CLONE_NEWNET));
    stat("/proc/thread-self/ns/net", &after);
    ch.Note("moved", before.st_ino != after.st_ino ? "yes" : "no");
  });
  ASSERT_TRUE(child.Ok()) << child.Describe();
  EXPECT_THAT(child.Call("clone3"), SyscallSucceeds());
  EXPECT_THAT(child.Call("unshare"), SyscallSucceeds());
  EXPECT_EQ(child.notes["moved"], "yes");
}

NETNS_TEST(SetnsErrors, NetnsFdWithMatchingOrZeroNstypeSucceeds, kSetnsClause) {
  FileDescriptor target = CreateNetns();
  const NetnsIdentity want = IdentifyNetns(target.get());
  for (int nstype : {CLONE_NEWNET, 0}) {
    NetnsIdentity seen;
    long rc = -1;
    RunInNetns(OpenCurrentNetns().get(), [&] {
      rc = setns(target.get(), nstype);
      seen = CurrentNetnsIdentity();
    });
    EXPECT_THAT((SyscallResult{rc, 0}), SyscallSucceeds()) << "nstype " << nstype;
    EXPECT_EQ(seen, want) << "nstype " << nstype;
  }
}

NETNS_TEST(SetnsErrors, WrongNstypeIsEinval, kSetnsClause) {
  FileDescriptor target = CreateNetns();
  RunInNetns(OpenCurrentNetns().get(), [&] {
    EXPECT_THAT(setns(target.get(), CLONE_NEWUTS), SyscallFailsWithErrno(EINVAL));
  });
}

NETNS_TEST(SetnsErrors, NonNamespaceFdIsEinval, kSetnsClause) {
  FileDescriptor file(open("/proc/self/stat", O_RDONLY | O_CLOEXEC));
  FileDescriptor sock(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(file.valid() && sock.valid());
  RunInNetns(OpenCurrentNetns().get(), [&] {
    EXPECT_THAT(setns(file.get(), CLONE_NEWNET), SyscallFailsWithErrno(EINVAL)) << "regular file";
    EXPECT_THAT(setns(sock.get(), CLONE_NEWNET), SyscallFailsWithErrno(EINVAL)) << "socket";
  });
}

NETNS_TEST(SetnsErrors, BadFdIsEbadf, kSetnsClause) {
  RunInNetns(OpenCurrentNetns().get(),
             [&] { EXPECT_THAT(setns(-1, CLONE_NEWNET), SyscallFailsWithErrno(EBADF)); });
}

NETNS_TEST(SetnsErrors, UnprivilegedIsEperm, kSetnsClause) {
  FileDescriptor target = CreateNetns();
  auto child = RunInChild({.uid = kNobodyUid}, [&](ChildChannel& ch) {
    ch.Record("setns", setns(target.get(), CLONE_NEWNET));
  });
  ASSERT_TRUE(child.Ok()) << child.Describe();
  EXPECT_THAT(child.Call("setns"), SyscallFailsWithErrno(EPERM));
}

// B4.3: CAP_SYS_ADMIN is needed over the target netns's owner *and* in the caller's own user
// namespace. Root of a child user namespace has the second but not the first for a netns owned
// by the initial user namespace; over its own netns it has both.
NETNS_TEST(SetnsErrors, ChildUsernsRootCannotEnterOuterNetns, kSetnsClause) {
  FileDescriptor outer = CreateNetns();
  auto child = RunInChild({.uid = kNobodyUid}, [&](ChildChannel& ch) {
    ch.Record("unshare", unshare(CLONE_NEWUSER | CLONE_NEWNET));
    FileDescriptor own(open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
    ch.Record("setns-outer", setns(outer.get(), CLONE_NEWNET));
    ch.Record("setns-own", setns(own.get(), CLONE_NEWNET));
  });
  ASSERT_TRUE(child.Ok()) << child.Describe();
  ASSERT_THAT(child.Call("unshare"), SyscallSucceeds());
  EXPECT_THAT(child.Call("setns-outer"), SyscallFailsWithErrno(EPERM));
  EXPECT_THAT(child.Call("setns-own"), SyscallSucceeds());
}

// B5.3: the netns count is charged per user namespace against user.max_net_namespaces of that
// user namespace; setting the limit inside a child user namespace changes nothing on the host.
NETNS_TEST(CloneErrors, QuotaExhaustedIsEnospcAndRaisingItHelps, "sem.B5.3.enospc-at-quota") {
  auto child = RunInChild({.uid = kNobodyUid, .new_user_ns = true}, [](ChildChannel& ch) {
    auto write_limit = [&](const char* value) {
      FileDescriptor f(open("/proc/sys/user/max_net_namespaces", O_WRONLY | O_CLOEXEC));
      return f ? write(f.get(), value, std::strlen(value)) : -1;
    };
    ch.Record("limit0", write_limit("0"));
    ch.Record("unshare-at-0", unshare(CLONE_NEWNET));
    ch.Record("clone3-at-0", Clone3AndReap(CLONE_NEWNET));
    ch.Record("limit5", write_limit("5"));
    ch.Record("unshare-at-5", unshare(CLONE_NEWNET));
  });
  ASSERT_TRUE(child.Ok()) << child.Describe();
  ASSERT_THAT(child.Call("limit0"), SyscallSucceeds());
  EXPECT_THAT(child.Call("unshare-at-0"), SyscallFailsWithErrno(ENOSPC));
  EXPECT_THAT(child.Call("clone3-at-0"), SyscallFailsWithErrno(ENOSPC));
  ASSERT_THAT(child.Call("limit5"), SyscallSucceeds());
  EXPECT_THAT(child.Call("unshare-at-5"), SyscallSucceeds());
}

// clone(2): CLONE_NEWNET needs "a kernel configured with the CONFIG_NET_NS option"; EINVAL
// otherwise. The verdict follows the kernel's own config where it can be read, and the two
// observable facts (/proc/self/ns/net, the call's result) must agree with each other regardless.
NETNS_TEST(CloneErrors, NewnetFollowsConfigNetNs, "clone2.newnet.einval-without-config-net-ns",
           .net_ns = false) {
  const auto configured = RunningKernelConfig().Enabled("CONFIG_NET_NS");
  const bool has_ns_file = access("/proc/self/ns/net", F_OK) == 0;
  if (configured) {
    EXPECT_EQ(has_ns_file, *configured)
        << "CONFIG_NET_NS=" << (*configured ? "y" : "n") << " (from "
        << RunningKernelConfig().source << ") but /proc/self/ns/net "
        << (has_ns_file ? "exists" : "is missing");
  }
  const bool expect_netns = configured.value_or(has_ns_file);
  auto child = RunInChild({}, [](ChildChannel& ch) { TryAllThree(ch, CLONE_NEWNET); });
  ASSERT_TRUE(child.Ok()) << child.Describe();
  for (const char* call : {"unshare", "clone", "clone3"}) {
    if (expect_netns) {
      EXPECT_THAT(child.Call(call), SyscallSucceeds()) << call;
    } else {
      EXPECT_THAT(child.Call(call), SyscallFailsWithErrno(EINVAL)) << call;
    }
  }
}

// network_namespaces(7): "Use of network namespaces requires a kernel that is configured with
// the CONFIG_NET_NS option." Use, not just creation: with it, a process can make a netns, see
// only a fresh loopback there, and get back into the one it came from through an nsfs fd; without
// it there is no nsfs file to hold or enter and the creation is EINVAL. The kernel's own config
// decides the expectation where it can be read; the observations must agree with each other
// either way.
NETNS_TEST(ConfigNetNs, NamespacesUsableExactlyWithConfigNetNs, "netns7.requires-config-net-ns",
           .net_ns = false) {
  const auto configured = RunningKernelConfig().Enabled("CONFIG_NET_NS");
  auto child = RunInChild({}, [](ChildChannel& ch) {
    const int home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    ch.Record("open-own-nsfs", home);
    if (ch.Record("unshare", unshare(CLONE_NEWNET)) != 0) return;
    // /proc/self/net follows the task's netns: a fresh lo first in the new one (fallback tunnels
    // of loaded tunnel drivers may follow it; suites/lifecycle_fresh_test.cc checks those).
    FILE* dev = std::fopen("/proc/self/net/dev", "re");
    std::string names;
    char line[512];
    for (int n = 0; dev && std::fgets(line, sizeof(line), dev); ++n) {
      const char* colon = std::strchr(line, ':');
      if (n < 2 || !colon) continue;
      const char* first = line + std::strspn(line, " ");
      names += std::string(first, colon) + " ";
    }
    if (dev) std::fclose(dev);
    ch.Note("devices-in-new-netns", names);
    // Which netns the task is in: before, in the new one, and back home.
    auto inode = [] {
      struct stat st {};
      return stat("/proc/self/ns/net", &st) == 0 ? std::to_string(st.st_ino) : "none";
    };
    struct stat home_st {};
    ch.Note("home-ino",
            home >= 0 && fstat(home, &home_st) == 0 ? std::to_string(home_st.st_ino) : "none");
    ch.Note("new-ino", inode());
    ch.Record("setns-home", home >= 0 ? setns(home, CLONE_NEWNET) : -1);
    ch.Note("back-ino", inode());
  });
  ASSERT_TRUE(child.Ok()) << child.Describe();
  const bool has_nsfs = child.Call("open-own-nsfs").rc >= 0;
  if (configured) {
    EXPECT_EQ(has_nsfs, *configured) << "CONFIG_NET_NS=" << (*configured ? "y" : "n") << " (from "
                                     << RunningKernelConfig().source << ") but /proc/self/ns/net "
                                     << (has_nsfs ? "opens" : "does not open");
  }
  if (configured.value_or(has_nsfs)) {
    ASSERT_THAT(child.Call("open-own-nsfs"), SyscallSucceeds());
    ASSERT_THAT(child.Call("unshare"), SyscallSucceeds());
    EXPECT_NE(child.notes["new-ino"], child.notes["home-ino"]) << "unshare left the task home";
    EXPECT_THAT(child.notes["devices-in-new-netns"], ::testing::StartsWith("lo "));
    EXPECT_THAT(child.Call("setns-home"), SyscallSucceeds());
    EXPECT_EQ(child.notes["back-ino"], child.notes["home-ino"]) << "setns did not bring it back";
  } else {
    EXPECT_THAT(child.Call("open-own-nsfs"), SyscallFailsWithErrno(ENOENT));
    EXPECT_THAT(child.Call("unshare"), SyscallFailsWithErrno(EINVAL));
  }
}

}  // namespace
}  // namespace conform
