// netns-conform-fault-suite: cases that misbehave on purpose, for the runner's own tests
// (tests/runner_cli_test.sh, tests/host_safety_test.sh). Each leaves behind something that would
// be residue on the host if the sandbox failed: veth pairs, an nsfs bind mount in /run/netns,
// /etc/netns/NAME, a netns held by a process that escaped the case's process group. Every one of
// them lives in the case's sandbox only, so the host must look the same after a run, however the
// case ends.
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

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
constexpr const char* kOutOfMemoryMessage = "fault-suite: memory ran out as planned 5d20";
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

// ---- Cases that test the launcher itself: each must end with its own status, under the fork
// server as under the exec launcher, and leave the next case untouched. ----

// A child that exits at once and a grandchild that lingers, holding the case's log and result fd.
NETNS_TEST(Fault, ForksAndLeavesAChild, "test.fault.forks") {
  const pid_t child = fork();
  ASSERT_GE(child, 0) << "fork: " << ErrnoName(errno);
  if (child == 0) {
    if (fork() == 0) {
      execlp("sleep", "sleep", kSleeperSeconds, static_cast<char*>(nullptr));
      _exit(127);
    }
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child) << ErrnoName(errno);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "wait status " << status;
}

// Becomes another program before reporting: ERROR, "exited with status 4 without reporting".
NETNS_TEST(Fault, ExecsAnotherProgram, "test.fault.execs") {
  execl("/bin/sh", "sh", "-c", "exit 4", static_cast<char*>(nullptr));
  ADD_FAILURE() << "exec /bin/sh: " << ErrnoName(errno);
}

// exit() from a destructor at the end of the body, before gtest hears of the end: ERROR, status 5.
NETNS_TEST(Fault, ExitsFromADestructor, "test.fault.exit-from-destructor") {
  struct ExitsOnDestruction {
    ~ExitsOnDestruction() { std::exit(5); }
  } exits;
  SUCCEED();
}

// No stdin, stdout or stderr any more: the result still reaches the runner (PASS).
NETNS_TEST(Fault, ClosesStdio, "test.fault.closes-stdio") {
  for (int fd : {STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO}) ASSERT_EQ(close(fd), 0) << fd;
  EXPECT_EQ(fcntl(STDOUT_FILENO, F_GETFD), -1);
}

// Room for no new fd and no core file: the result still reaches the runner (PASS).
NETNS_TEST(Fault, LowersItsRlimits, "test.fault.lowers-rlimits") {
  const rlimit no_core{0, 0};
  ASSERT_EQ(setrlimit(RLIMIT_CORE, &no_core), 0) << ErrnoName(errno);
  rlimit files{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &files), 0) << ErrnoName(errno);
  files.rlim_cur = 1;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &files), 0) << ErrnoName(errno);
  EXPECT_EQ(open("/dev/null", O_RDONLY | O_CLOEXEC), -1);
  EXPECT_EQ(errno, EMFILE) << ErrnoName(errno);
}

// Every signal blocked, then a normal end (PASS).
NETNS_TEST(Fault, BlocksEverySignal, "test.fault.blocks-signals") {
  sigset_t all;
  sigfillset(&all);
  ASSERT_EQ(sigprocmask(SIG_BLOCK, &all, nullptr), 0) << ErrnoName(errno);
  EXPECT_EQ(raise(SIGTERM), 0);  // stays pending
}

// Every signal blocked, then a hang: only SIGKILL ends it, at the case timeout (TIMEOUT).
NETNS_TEST(Fault, BlocksEverySignalAndHangs, "test.fault.blocks-signals-hang") {
  sigset_t all;
  sigfillset(&all);
  ASSERT_EQ(sigprocmask(SIG_BLOCK, &all, nullptr), 0) << ErrnoName(errno);
  for (;;) pause();
}

// The caller's address space size, from /proc/self/status (VmSize, in kB).
rlim_t VirtualMemoryBytes() {
  FILE* status = std::fopen("/proc/self/status", "re");
  unsigned long long kb = 0;
  char line[256];
  while (status && std::fgets(line, sizeof(line), status))
    if (std::sscanf(line, "VmSize: %llu kB", &kb) == 1) break;
  if (status) std::fclose(status);
  return static_cast<rlim_t>(kb) << 10;
}

// Allocates until its address space (capped 256 MiB above what it has) is full; then fails with
// its own message (FAIL). The cap keeps the host's memory out of it.
NETNS_TEST(Fault, ExhaustsMemory, "test.fault.exhausts-memory") {
  rlimit space{};
  ASSERT_EQ(getrlimit(RLIMIT_AS, &space), 0) << ErrnoName(errno);
  const rlimit saved = space;
  space.rlim_cur = VirtualMemoryBytes() + (256ull << 20);
  ASSERT_EQ(setrlimit(RLIMIT_AS, &space), 0) << ErrnoName(errno);
  size_t mib = 0;
  {
    std::vector<std::unique_ptr<char[]>> hog;
    hog.reserve(8192);
    try {
      for (;;) {
        hog.push_back(std::make_unique<char[]>(1 << 20));
        std::memset(hog.back().get(), 1, 1 << 20);
        ++mib;
      }
    } catch (const std::bad_alloc&) {
    }
  }
  ASSERT_EQ(setrlimit(RLIMIT_AS, &saved), 0) << ErrnoName(errno);
  ADD_FAILURE() << kOutOfMemoryMessage << " after " << mib << " MiB";
}

// Signals its parent (the case's init, PID 1 of its namespace), which must not die of it (PASS).
NETNS_TEST(Fault, KillsItsParent, "test.fault.kills-parent") {
  const pid_t parent = getppid();
  EXPECT_EQ(parent, 1) << "the case is not the child of its namespace's init";
  kill(parent, SIGKILL);
  kill(parent, SIGTERM);
  EXPECT_EQ(getppid(), parent) << "its parent died";
  EXPECT_EQ(kill(parent, 0), 0) << ErrnoName(errno);
}

// Declares `.alone`: the runner starts it before every other case and none beside it, so its
// ending is the run's first (runner_cli checks journal.jsonl), however quickly the cases after it
// in the listing end. Its 400 ms are its own length, not a wait for anything.
NETNS_TEST(Fault, RunsAlone, "test.fault.runs-alone", .alone = true) {
  EXPECT_EQ(poll(nullptr, 0, 400), 0) << ErrnoName(errno);
}

}  // namespace
}  // namespace conform
