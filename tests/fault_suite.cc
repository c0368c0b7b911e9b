// netns-conform-fault-suite: cases that misbehave on purpose, for the runner's own tests
// (tests/runner_cli_test.sh, tests/host_safety_test.sh). Each leaves behind something that would
// be residue on the host if the sandbox failed: veth pairs, an nsfs bind mount in /run/netns,
// /etc/netns/NAME, a netns held by a process that escaped the case's process group. Every one of
// them lives in the case's sandbox only, so the host must look the same after a run, however the
// case ends.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string>

#include "fixtures/case_registry.h"
#include "fixtures/error.h"
#include "fixtures/netlink.h"
#include "fixtures/netns.h"

namespace conform {
namespace {

// Distinctive texts the runner's tests look for in results.json.
constexpr const char* kFailMessage = "fault-suite: deliberate failure 7f3e";
constexpr const char* kSkipReason = "fault-suite: deliberate skip 91ac";
// The held netns's sleeper: `sleep 987654`, easy to find with pgrep -f.
constexpr const char* kSleeperSeconds = "987654";
constexpr const char* kHangingMarker = "fault-suite: Fault.Hangs is blocking now";
constexpr const char* kHangingInitialPidNsMarker =
    "fault-suite: Fault.HangsInInitialPidNs is blocking now";

// A veth pair in the calling thread's netns (the case's sandbox netns under the runner).
void LeaveVeth(const std::string& name) {
  RouteClient().CreateVeth(name + "a", name + "b");
  ASSERT_TRUE(RouteClient().GetLink(name + "a").has_value());
}

// `ip netns add`-style: an nsfs bind mount of a fresh netns on /run/netns/NAME.
void LeaveNamedNetns(const std::string& name) {
  FileDescriptor ns = CreateNetns();
  const std::string path = "/run/netns/" + name;
  FileDescriptor file(open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444));
  ASSERT_TRUE(file.valid()) << "create " << path << ": " << ErrnoName(errno);
  const std::string source = "/proc/self/fd/" + std::to_string(ns.get());
  ASSERT_EQ(mount(source.c_str(), path.c_str(), nullptr, MS_BIND, nullptr), 0)
      << "bind " << source << " on " << path << ": " << ErrnoName(errno);
}

// ip-netns(8)'s per-netns configuration: /etc/netns/NAME/resolv.conf, made with /etc/netns itself
// where it does not exist yet.
void LeaveEtcNetnsConfig(const std::string& name) {
  const std::string dir = "/etc/netns/" + name;
  for (const std::string& path : {std::string("/etc/netns"), dir}) {
    ASSERT_TRUE(mkdir(path.c_str(), 0755) == 0 || errno == EEXIST)
        << "mkdir " << path << ": " << ErrnoName(errno);
  }
  const std::string file = dir + "/resolv.conf";
  FileDescriptor fd(open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  ASSERT_TRUE(fd.valid()) << "create " << file << ": " << ErrnoName(errno);
  const std::string text = "nameserver 192.0.2.53\n";
  ASSERT_EQ(write(fd.get(), text.data(), text.size()), static_cast<ssize_t>(text.size()));
}

// A child in a new session (so it escapes the case's process group, and a kill of that group)
// that unshares a netns and then sleeps in it. No PR_SET_PDEATHSIG: only the sandbox's PID
// namespace can take it down.
void LeaveSessionLeaderHoldingNetns() {
  int ready[2];
  ASSERT_EQ(pipe2(ready, O_CLOEXEC), 0) << ErrnoName(errno);
  FileDescriptor ready_read(ready[0]), ready_write(ready[1]);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0) << "fork: " << ErrnoName(errno);
  if (pid == 0) {
    int err = 0;
    if (setsid() < 0 || unshare(CLONE_NEWNET) != 0) err = errno;
    (void)!write(ready_write.get(), &err, sizeof(err));
    if (err != 0) _exit(1);
    execlp("sleep", "sleep", kSleeperSeconds, static_cast<char*>(nullptr));
    _exit(127);
  }
  ready_write.reset();
  int err = -1;
  ASSERT_EQ(read(ready_read.get(), &err, sizeof(err)), static_cast<ssize_t>(sizeof(err)))
      << "the sleeper died before reporting";
  ASSERT_EQ(err, 0) << "sleeper setsid/unshare: " << ErrnoName(err);
}

NETNS_TEST(Fault, PassAfterLeavingVeth, "test.fault.pass-leaving-residue") {
  ASSERT_NO_FATAL_FAILURE(LeaveVeth("fltpass"));
  ASSERT_NO_FATAL_FAILURE(LeaveNamedNetns("fault-pass"));
  ASSERT_NO_FATAL_FAILURE(LeaveEtcNetnsConfig("fault-pass"));
  ASSERT_NO_FATAL_FAILURE(LeaveSessionLeaderHoldingNetns());
}

NETNS_TEST(Fault, FailsWithMessage, "test.fault.fail") {
  ASSERT_NO_FATAL_FAILURE(LeaveVeth("fltfail"));
  EXPECT_EQ(1, 2) << kFailMessage;
}

NETNS_TEST(Fault, Segfaults, "test.fault.segfault") {
  ASSERT_NO_FATAL_FAILURE(LeaveVeth("fltsegv"));
  raise(SIGSEGV);
  ADD_FAILURE() << "still alive after raise(SIGSEGV)";
}

// Blocks with everything in place, so that a runner killed meanwhile leaves the most behind: a
// veth, a held netns, an nsfs mount and a sleeper outside the case's process group.
NETNS_TEST(Fault, Hangs, "test.fault.hang") {
  ASSERT_NO_FATAL_FAILURE(LeaveVeth("flthang"));
  FileDescriptor ns = CreateNetns();
  ASSERT_NO_FATAL_FAILURE(LeaveNamedNetns("fault-hang"));
  ASSERT_NO_FATAL_FAILURE(LeaveSessionLeaderHoldingNetns());
  // host_safety_test.sh waits for this line in the case's log before it kills the runner.
  std::printf("%s\n", kHangingMarker);
  std::fflush(stdout);
  for (;;) pause();
}

// The same residue and hang in a case that keeps the runner's PID namespace
// (`.initial_pid_ns`): no namespace's death takes its setsid() sleeper along, its keeper must.
NETNS_TEST(Fault, HangsInInitialPidNs, "test.fault.hang-initial-pid-ns", .initial_pid_ns = true) {
  ASSERT_NO_FATAL_FAILURE(LeaveVeth("flthgip"));
  ASSERT_NO_FATAL_FAILURE(LeaveNamedNetns("fault-hang-ipn"));
  ASSERT_NO_FATAL_FAILURE(LeaveSessionLeaderHoldingNetns());
  std::printf("%s\n", kHangingInitialPidNsMarker);
  std::fflush(stdout);
  for (;;) pause();
}

NETNS_TEST(Fault, PassInInitialPidNsLeavingSleeper, "test.fault.pass-initial-pid-ns",
           .initial_pid_ns = true) {
  ASSERT_NO_FATAL_FAILURE(LeaveVeth("fltpsip"));
  ASSERT_NO_FATAL_FAILURE(LeaveSessionLeaderHoldingNetns());
}

NETNS_TEST(Fault, ExitsWithoutResult, "test.fault.exit-without-result") {
  ASSERT_NO_FATAL_FAILURE(LeaveVeth("fltexit"));
  _exit(3);
}

NETNS_TEST(Fault, Skips, "test.fault.skip") { GTEST_SKIP() << kSkipReason; }

NETNS_TEST(Fault, NeedsMissingKconfig, "test.fault.missing-kconfig",
           .kconfigs = {"CONFIG_NETNS_CONFORM_NEVER_SET"}) {
  ADD_FAILURE() << "started although its kernel config requirement is unmet";
}

}  // namespace
}  // namespace conform
