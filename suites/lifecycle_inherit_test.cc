// Who is in a netns: how new processes and threads get theirs.
// clone(2): without CLONE_NEWNET "the process is created in the same network namespace as the
// calling process"; with it, the child gets an isolated view of the networking stack.
// ip-netns(8): "By default a process inherits its network namespace from its parent. Initially
// all the processes share the same default network namespace from the init process."
// SEMANTICS.md B5.2: unshare(CLONE_NEWNET) in one thread moves that thread only.

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

extern char** environ;

namespace conform {
namespace {

std::string ReadFile(const std::string& path) { return ReadTextFile(path).value_or(""); }

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ",") + item;
  return out;
}
// ---------------------------------------------------------------------------------------------
// Inheritance of the netns by new processes

// What a child process reports about the netns it runs in.
struct ChildNetns {
  dev_t dev = 0;
  ino_t ino = 0;
  uint64_t id = 0;
  bool has_id = false;
  bool ok = false;
};

// clone(flags|SIGCHLD) from the calling thread, as fork(2) does; the child reports its netns
// (async-signal-safe calls only: the process may be multi-threaded).
ChildNetns CloneAndReport(unsigned long flags) {
  int fds[2];
  CheckSyscall(pipe2(fds, O_CLOEXEC), "pipe2");
  FileDescriptor read_end(fds[0]), write_end(fds[1]);
  const long pid = syscall(SYS_clone, flags | SIGCHLD, nullptr, nullptr, nullptr, 0);
  if (pid == 0) {
    ChildNetns report;
    int fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    struct stat st {};
    if (fd >= 0 && fstat(fd, &st) == 0) {
      report.dev = st.st_dev;
      report.ino = st.st_ino;
      report.has_id = ioctl(fd, NS_GET_ID, &report.id) == 0;
      report.ok = true;
    }
    (void)!write(write_end.get(), &report, sizeof(report));
    _exit(0);
  }
  CheckSyscall(pid, "clone");
  write_end.reset();
  ChildNetns report;
  if (read(read_end.get(), &report, sizeof(report)) != sizeof(report)) report.ok = false;
  waitpid(static_cast<pid_t>(pid), nullptr, 0);
  return report;
}

NetnsIdentity AsIdentity(const ChildNetns& c) {
  NetnsIdentity identity;
  if (c.has_id) identity.id = c.id;
  identity.dev = c.dev;
  identity.ino = c.ino;
  return identity;
}

NETNS_TEST(Lifecycle, CloneWithoutNewnetSharesCallersNetns,
           "clone2.newnet.unset-shares-callers-netns") {
  FileDescriptor a = CreateNetns();
  const NetnsIdentity id_a = IdentifyNetns(a.get());
  const NetnsIdentity id_here = CurrentNetnsIdentity();
  ChildNetns plain, with_flag, from_main;
  // The calling *thread* is in A while the rest of the process is not: the child follows it.
  RunInNetns(a.get(), [&] {
    plain = CloneAndReport(0);
    with_flag = CloneAndReport(CLONE_NEWNET);
  });
  from_main = CloneAndReport(0);
  ASSERT_TRUE(plain.ok && with_flag.ok && from_main.ok);
  EXPECT_EQ(AsIdentity(plain), id_a) << "a child cloned without CLONE_NEWNET from a thread in A";
  EXPECT_EQ(AsIdentity(from_main), id_here) << "a child cloned from the main thread";
  EXPECT_FALSE(AsIdentity(with_flag) == id_a) << "control: CLONE_NEWNET gives another netns";
  EXPECT_FALSE(AsIdentity(with_flag) == id_here);
}

// Through fork and exec, and again to a grandchild: readlink(1) prints the netns it runs in.
NETNS_TEST(Lifecycle, ExecedDescendantsInheritParentNetns, "ipnetns8.inherited-from-parent") {
  SKIP_IF(access("/bin/sh", X_OK) != 0);
  auto spawn_and_read = [](std::string& out) {
    int fds[2];
    CheckSyscall(pipe2(fds, O_CLOEXEC), "pipe2");
    FileDescriptor read_end(fds[0]), write_end(fds[1]);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, write_end.get(), STDOUT_FILENO);
    const char* argv[] = {"/bin/sh", "-c",
                          "readlink /proc/self/ns/net; (readlink /proc/self/ns/net)", nullptr};
    pid_t pid = -1;
    const int rc =
        posix_spawn(&pid, "/bin/sh", &actions, nullptr, const_cast<char**>(argv), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw SystemError("posix_spawn /bin/sh", rc);
    write_end.reset();
    char buf[256];
    for (ssize_t got; (got = read(read_end.get(), buf, sizeof(buf))) > 0;)
      out.append(buf, static_cast<size_t>(got));
    int status = 0;
    waitpid(pid, &status, 0);
    return status;
  };
  FileDescriptor a = CreateNetns();
  const std::string link_a = "net:[" + std::to_string(IdentifyNetns(a.get()).ino) + "]";
  const std::string link_here = "net:[" + std::to_string(CurrentNetnsIdentity().ino) + "]";
  ASSERT_NE(link_a, link_here);
  std::string from_a, from_here;
  int status_a = -1;
  RunInNetns(a.get(), [&] { status_a = spawn_and_read(from_a); });
  const int status_here = spawn_and_read(from_here);
  ASSERT_EQ(status_a, 0) << from_a;
  ASSERT_EQ(status_here, 0) << from_here;
  EXPECT_EQ(from_a, link_a + "\n" + link_a + "\n") << "spawned from a thread in A";
  EXPECT_EQ(from_here, link_here + "\n" + link_here + "\n") << "control: spawned from here";
}

// In a PID namespace of our own whose init runs in A: every process there is in A, except the
// one that unshared (the negative control). /proc is mounted afresh, so the walk sees exactly
// the processes of that PID namespace.
NETNS_TEST(Lifecycle, AllProcessesShareInitsNetns, "ipnetns8.initially-one-default-netns") {
  FileDescriptor a = CreateNetns();
  const NetnsIdentity id_a = IdentifyNetns(a.get());
  auto child = RunInChild({.timeout = std::chrono::milliseconds(20000)}, [&](ChildChannel& ch) {
    CheckSyscall(setns(a.get(), CLONE_NEWNET), "setns(A)");
    CheckSyscall(unshare(CLONE_NEWNS | CLONE_NEWPID), "unshare(CLONE_NEWNS|CLONE_NEWPID)");
    CheckSyscall(mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr), "make / private");
    const pid_t init = fork();
    if (init == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      int status = 1;
      try {
        CheckSyscall(mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr),
                     "mount proc");
        int release[2], ready[2];
        CheckSyscall(pipe2(release, O_CLOEXEC), "pipe2");
        CheckSyscall(pipe2(ready, O_CLOEXEC), "pipe2");
        // A worker: optionally unshares, says ready, waits for the release pipe to close.
        auto worker = [&](bool own_netns, bool fork_grandchild) {
          const pid_t pid = fork();
          if (pid != 0) return pid;
          close(release[1]);
          if (fork_grandchild && fork() == 0) {
            (void)!write(ready[1], "g", 1);
            char byte;
            (void)!read(release[0], &byte, 1);
            _exit(0);
          }
          if (own_netns && unshare(CLONE_NEWNET) != 0) _exit(1);
          (void)!write(ready[1], "w", 1);
          char byte;
          (void)!read(release[0], &byte, 1);
          _exit(0);
        };
        worker(false, false);
        worker(false, true);
        const pid_t apart = worker(true, false);
        close(ready[1]);
        char bytes[4];
        size_t have = 0;
        while (have < sizeof(bytes)) {
          ssize_t got = read(ready[0], bytes + have, sizeof(bytes) - have);
          if (got <= 0) throw SystemError("waiting for the workers", got < 0 ? errno : EPIPE);
          have += static_cast<size_t>(got);
        }
        struct stat init_ns {};
        CheckSyscall(stat("/proc/1/ns/net", &init_ns), "stat /proc/1/ns/net");
        ch.Note("init-ino", std::to_string(init_ns.st_ino));
        ch.Note("apart-pid", std::to_string(apart));
        std::vector<std::string> sharing, differing;
        DIR* dir = opendir("/proc");
        if (!dir) throw SystemError("opendir /proc", errno);
        while (dirent* entry = readdir(dir)) {
          if (!std::all_of(entry->d_name, entry->d_name + std::strlen(entry->d_name), ::isdigit))
            continue;
          struct stat st {};
          if (stat(("/proc/" + std::string(entry->d_name) + "/ns/net").c_str(), &st) != 0) continue;
          const bool same = st.st_dev == init_ns.st_dev && st.st_ino == init_ns.st_ino;
          (same ? sharing : differing).push_back(entry->d_name);
        }
        closedir(dir);
        ch.Note("sharing", std::to_string(sharing.size()));
        ch.Note("differing", Join(differing));
        close(release[1]);
        while (wait(nullptr) > 0 || errno == EINTR) {
        }
        status = 0;
      } catch (const std::exception& e) {
        ch.Note("init-error", e.what());
      }
      _exit(status);
    }
    CheckSyscall(init, "fork init");
    int status = 0;
    waitpid(init, &status, 0);
    ch.Record("init-exit", WIFEXITED(status) ? WEXITSTATUS(status) : 128);
  });
  ASSERT_TRUE(child.Ok()) << child.Describe();
  EXPECT_THAT(child.Call("init-exit"), SyscallSucceedsWithValue(0)) << child.Describe();
  EXPECT_EQ(child.notes["init-ino"], std::to_string(id_a.ino))
      << "init of the PID namespace runs in A, where it was started";
  // init, two workers and the grandchild of one of them: all in init's netns.
  EXPECT_EQ(child.notes["sharing"], "4") << child.Describe();
  EXPECT_EQ(child.notes["differing"], child.notes["apart-pid"])
      << "control: only the worker that unshared is elsewhere";
}

// ---------------------------------------------------------------------------------------------
// B5.2: unshare in one thread

NETNS_TEST(Lifecycle, UnshareInThreadMovesOnlyThatThread,
           "sem.B5.2.unshare-in-thread-affects-only-thread") {
  const NetnsIdentity main_before = CurrentNetnsIdentity();
  struct stat self_before {
  }, self_after{}, thread_before{}, thread_after{}, by_tid{};
  SyscallResult unshared;
  std::thread worker([&] {
    stat("/proc/self/ns/net", &self_before);
    stat("/proc/thread-self/ns/net", &thread_before);
    unshared.rc = unshare(CLONE_NEWNET);
    unshared.err = errno;
    stat("/proc/self/ns/net", &self_after);
    stat("/proc/thread-self/ns/net", &thread_after);
    const std::string task = "/proc/self/task/" + std::to_string(gettid()) + "/ns/net";
    stat(task.c_str(), &by_tid);
  });
  worker.join();
  ASSERT_THAT(unshared, SyscallSucceeds());
  EXPECT_EQ(thread_before.st_ino, self_before.st_ino) << "control: the thread started there";
  EXPECT_NE(thread_after.st_ino, thread_before.st_ino) << "the unsharing thread must move";
  EXPECT_EQ(by_tid.st_ino, thread_after.st_ino) << "/proc/self/task/TID agrees";
  EXPECT_EQ(self_after.st_ino, self_before.st_ino) << "/proc/self/ns/net is the leader's";
  EXPECT_EQ(CurrentNetnsIdentity(), main_before) << "the main thread must stay where it was";
}
// ---------------------------------------------------------------------------------------------
// clone(2): the CLONE_NEWNET child's isolated view

// A child made with clone(CLONE_NEWNET) by a process in A sees none of A's devices, addresses,
// routes, sockets or /proc/net entries; the process that cloned it (control) sees them all.
NETNS_TEST(Lifecycle, CloneNewnetChildSeesIsolatedStack, "clone2.netns.isolated-networking-stack",
           .kconfigs = {"CONFIG_VETH"}) {
  FileDescriptor a = CreateNetns();
  {
    RouteClient rc(a.get());
    rc.CreateVeth("va", "vb");
    const int va = rc.GetLink("va")->ifindex;
    rc.SetUp(va, true);
    rc.SetUp(rc.GetLink("vb")->ifindex, true);
    rc.AddAddress4(va, "192.0.2.1/24");
  }
  FileDescriptor listener;
  RunInNetns(a.get(), [&] { listener.reset(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)); });
  sockaddr_in any{};
  any.sin_family = AF_INET;
  ASSERT_THAT(bind(listener.get(), reinterpret_cast<sockaddr*>(&any), sizeof(any)),
              SyscallSucceeds());
  ASSERT_THAT(listen(listener.get(), 1), SyscallSucceeds());
  socklen_t len = sizeof(any);
  getsockname(listener.get(), reinterpret_cast<sockaddr*>(&any), &len);
  const uint16_t port = ntohs(any.sin_port);

  // Each side records the same observations under its own prefix.
  auto observe = [port](ChildChannel& ch, const std::string& who) {
    RouteClient rc;
    // lo up first: only then has the netns an IPv4 local table, without which IPv4 bind()
    // takes any address (inet_addr_type finds no table and answers RTN_BROADCAST).
    rc.SetUp(rc.GetLink("lo")->ifindex, true);
    std::vector<std::string> links, addresses;
    for (const auto& link : rc.DumpLinks()) {
      links.push_back(link.name);
      for (const auto& address : rc.DumpAddresses(link.ifindex))
        if (address.find('.') != std::string::npos) addresses.push_back(address);
    }
    std::sort(links.begin(), links.end());
    std::sort(addresses.begin(), addresses.end());
    ch.Note(who + "links", Join(links));
    ch.Note(who + "addresses", Join(addresses));
    auto dev = ProcNetDevNames(ReadFile("/proc/self/net/dev"));
    std::sort(dev.begin(), dev.end());
    ch.Note(who + "proc-dev", Join(dev));
    ch.Note(who + "proc-tcp",
            ProcNetListsPort(ReadFile("/proc/self/net/tcp"), port) ? "listed" : "absent");
    sockaddr_in local{};
    local.sin_family = AF_INET;
    inet_pton(AF_INET, "192.0.2.1", &local.sin_addr);
    FileDescriptor s(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    ch.Record(who + "bind-address",
              bind(s.get(), reinterpret_cast<sockaddr*>(&local), sizeof(local)));
    sockaddr_in onlink = local;
    inet_pton(AF_INET, "192.0.2.7", &onlink.sin_addr);
    onlink.sin_port = htons(9);
    FileDescriptor u(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    ch.Record(who + "route",
              connect(u.get(), reinterpret_cast<sockaddr*>(&onlink), sizeof(onlink)));
  };
  auto child = RunInChild({}, [&](ChildChannel& ch) {
    CheckSyscall(setns(a.get(), CLONE_NEWNET), "setns(A)");
    observe(ch, "parent-");
    const long pid = syscall(SYS_clone, CLONE_NEWNET | SIGCHLD, nullptr, nullptr, nullptr, 0);
    if (pid == 0) {
      try {
        observe(ch, "child-");
      } catch (const std::exception& e) {
        ch.Note("child-error", e.what());
      }
      _exit(0);
    }
    ch.Record("clone", pid);
    if (pid > 0) waitpid(static_cast<pid_t>(pid), nullptr, 0);
  });
  ASSERT_TRUE(child.Ok()) << child.Describe();
  ASSERT_THAT(child.Call("clone"), SyscallSucceeds());
  auto& n = child.notes;
  // Control: the cloning process, in A, sees A's stack.
  EXPECT_EQ(n["parent-links"], "lo,va,vb") << child.Describe();
  EXPECT_EQ(n["parent-addresses"], "127.0.0.1/8,192.0.2.1/24");
  EXPECT_EQ(n["parent-proc-dev"], "lo,va,vb");
  EXPECT_EQ(n["parent-proc-tcp"], "listed");
  EXPECT_THAT(child.Call("parent-bind-address"), SyscallSucceeds());
  EXPECT_THAT(child.Call("parent-route"), SyscallSucceeds());
  // The CLONE_NEWNET child sees none of it.
  EXPECT_EQ(n["child-error"], "");
  EXPECT_EQ(n["child-links"], "lo") << "devices";
  EXPECT_EQ(n["child-addresses"], "127.0.0.1/8") << "IPv4 addresses (lo is up by then)";
  EXPECT_EQ(n["child-proc-dev"], "lo") << "/proc/net/dev";
  EXPECT_EQ(n["child-proc-tcp"], "absent") << "/proc/net/tcp (sockets)";
  EXPECT_THAT(child.Call("child-bind-address"), SyscallFailsWithErrno(EADDRNOTAVAIL))
      << "IPv4 addresses";
  EXPECT_THAT(child.Call("child-route"), SyscallFailsWithErrno(ENETUNREACH)) << "routes";
}

}  // namespace
}  // namespace conform
