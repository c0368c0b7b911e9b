// Tests of the reference ip-netns(8) implementation (fixtures/ref/) and of netns-ref. main()
// first moves the whole (still single-threaded) process into private mount and network
// namespaces with private tmpfs on /tmp, /run/netns and /etc/netns (EnterSelfSandbox), and every
// test works in a run folder of its own under that /tmp: nothing here can reach the host's
// /run/netns, /etc/netns, mounts or netns, even when a test crashes.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "fixtures/error.h"
#include "fixtures/fd.h"
#include "fixtures/mountinfo.h"
#include "fixtures/netlink.h"
#include "fixtures/netns.h"
#include "fixtures/ref/ref_monitor.h"
#include "fixtures/ref/ref_netns.h"
#include "fixtures/ref/run_dir.h"
#include "fixtures/sandbox_mounts.h"
#include "tests/ref_process.h"

namespace conform::ref {
// netns-ref as this process can start it (main() sets it).
std::string& RefBinaryPath() {
  static std::string path = NETNS_REF_BIN;
  return path;
}
const std::string& RefBinary() { return RefBinaryPath(); }

namespace {

using reftest::Process;
using reftest::ProcessResult;
using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using ::testing::UnorderedElementsAre;
using ::testing::UnorderedElementsAreArray;

constexpr auto kDeadline = seconds(20);

// ---- helpers -----------------------------------------------------------------------------------

using MountEntry = MountInfoEntry;

std::string MountInfoText() {
  std::ifstream in("/proc/self/mountinfo");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool Exists(const std::string& path) {
  struct stat st {};
  return lstat(path.c_str(), &st) == 0;
}

NetnsIdentity IdentityOfPath(const std::string& path) {
  FileDescriptor fd(
      static_cast<int>(CheckSyscall(open(path.c_str(), O_RDONLY | O_CLOEXEC), "open " + path)));
  return IdentifyNetns(fd.get());
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  ASSERT_TRUE(out.good()) << path;
}

std::vector<std::string> Names(const std::vector<ListEntry>& entries) {
  std::vector<std::string> names;
  for (const auto& entry : entries) names.push_back(entry.name);
  return names;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The errno of a RefError thrown by fn (0 when none was thrown) and its message.
template <typename Fn>
std::pair<int, std::string> ErrorOf(Fn&& fn) {
  try {
    fn();
  } catch (const RefError& e) {
    return {e.err() ? e.err() : -1, e.what()};
  }
  return {0, ""};
}

class RefTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    // A fresh folder per run of a test (--gtest_repeat runs it again in the same /tmp).
    static int runs = 0;
    base_ = std::string("/tmp/ref-") + info->name() + "-" + std::to_string(++runs);
    ASSERT_EQ(mkdir(base_.c_str(), 0755), 0) << base_;
    options_.run_dir = base_ + "/run";  // missing: add makes it
    options_.etc_dir = base_ + "/etc";
    options_.warn = [this](const std::string& message) { warnings_.push_back(message); };
  }

  void TearDown() override {
    // Detach every name so that this test's netns die with it, whatever it left behind.
    try {
      DeleteAll(options_);
    } catch (const RefError&) {
    }
  }

  std::string Path(const std::string& name) const { return NamePath(options_.run_dir, name); }

  // netns-ref with this test's folders.
  std::vector<std::string> Cli(std::vector<std::string> args) const {
    args.insert(args.begin(),
                {RefBinary(), "--run-dir", options_.run_dir, "--etc-dir", options_.etc_dir});
    return args;
  }
  ProcessResult RunCli(const std::vector<std::string>& args) const {
    return reftest::Run(Cli(args), kDeadline);
  }

  std::string base_;
  Options options_;
  std::vector<std::string> warnings_;
};

// ---- add / del / list ---------------------------------------------------------------------------

TEST_F(RefTest, AddListDelete) {
  Add(options_, "a");
  Add(options_, "b");
  EXPECT_THAT(Names(List(options_)), UnorderedElementsAre("a", "b"));
  EXPECT_TRUE(IsNsfsMount(Path("a")));
  EXPECT_TRUE(IsNsfsMount(Path("b")));
  const NetnsIdentity a = IdentityOfPath(Path("a"));
  EXPECT_FALSE(a == IdentityOfPath(Path("b")));
  EXPECT_FALSE(a == CurrentNetnsIdentity()) << "add must not use (or move) the caller's netns";

  Delete(options_, "a");
  EXPECT_FALSE(Exists(Path("a")));
  EXPECT_THAT(MountsAt(Path("a")), ::testing::IsEmpty());
  EXPECT_THAT(Names(List(options_)), ElementsAre("b"));

  const ProcessResult add = RunCli({"add", "c"});
  ASSERT_EQ(add.exit_code, 0) << add.Describe();
  const ProcessResult list = RunCli({"list"});
  ASSERT_EQ(list.exit_code, 0) << list.Describe();
  EXPECT_THAT(Lines(list.out), UnorderedElementsAre("b", "c"));
  const ProcessResult del = RunCli({"del", "c"});
  EXPECT_EQ(del.exit_code, 0) << del.Describe();
  EXPECT_FALSE(Exists(Path("c")));
}

TEST_F(RefTest, AddExistingFailsAndKeepsTheNetns) {
  Add(options_, "a");
  const NetnsIdentity before = IdentityOfPath(Path("a"));
  const auto [err, message] = ErrorOf([&] { Add(options_, "a"); });
  EXPECT_EQ(err, EEXIST);
  EXPECT_THAT(message, HasSubstr("already exists"));
  EXPECT_TRUE(IdentityOfPath(Path("a")) == before);
  EXPECT_EQ(MountsAt(Path("a")).size(), 1u) << "a second add must not stack a mount";

  const ProcessResult cli = RunCli({"add", "a"});
  EXPECT_EQ(cli.exit_code, 1) << cli.Describe();
  EXPECT_THAT(cli.err, StartsWith("netns-ref: netns 'a' already exists"));
  EXPECT_EQ(std::count(cli.err.begin(), cli.err.end(), '\n'), 1) << cli.err;
  EXPECT_TRUE(IdentityOfPath(Path("a")) == before);
}

TEST_F(RefTest, InvalidNamesAreRefusedBeforeTouchingAnything) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "is empty"},        {std::string(256, 'x'), "longer than NAME_MAX"},
      {"a/b", "contains '/'"}, {".", "'.' or '..'"},
      {"..", "'.' or '..'"},
  };
  for (const auto& [name, reason] : cases) {
    SCOPED_TRACE("name '" + name + "'");
    for (auto fn : std::vector<std::function<void()>>{
             [&] { Add(options_, name); }, [&] { Attach(options_, name, getpid()); },
             [&] { Delete(options_, name); }, [&] { Pids(options_, name); },
             [&] { SetNsid(options_, name, -1); }, [&] { SwitchInto(options_, name); }}) {
      const auto [err, message] = ErrorOf(fn);
      EXPECT_NE(err, 0);
      EXPECT_THAT(message, StartsWith("invalid netns name '" + name + "': "));
      EXPECT_THAT(message, HasSubstr(reason));
    }
    for (const std::string command : {"add", "del", "pids", "exec"}) {
      std::vector<std::string> args = {command, name};
      if (command == "exec") args.push_back("true");
      const ProcessResult cli = RunCli(args);
      EXPECT_EQ(cli.exit_code, 1) << command << ": " << cli.Describe();
      EXPECT_THAT(cli.err, StartsWith("netns-ref: invalid netns name '" + name + "': "));
    }
  }
  EXPECT_FALSE(Exists(options_.run_dir)) << "an invalid name must not create the run folder";
  EXPECT_FALSE(Exists(base_ + "/b"));
}

TEST_F(RefTest, DeleteMissingNameFails) {
  const auto [err, message] = ErrorOf([&] { Delete(options_, "nope"); });
  EXPECT_EQ(err, ENOENT);
  EXPECT_THAT(message, HasSubstr("does not exist"));
  const ProcessResult cli = RunCli({"del", "nope"});
  EXPECT_EQ(cli.exit_code, 1) << cli.Describe();
  EXPECT_THAT(cli.err, StartsWith("netns-ref: netns 'nope' does not exist"));
}

TEST_F(RefTest, DeleteAllRemovesEveryName) {
  for (const char* name : {"x", "y", "z"}) Add(options_, name);
  DeleteAll(options_);
  EXPECT_THAT(List(options_), ::testing::IsEmpty());
  for (const char* name : {"x", "y"}) Add(options_, name);
  const ProcessResult ip_syntax = RunCli({"-all", "del"});
  EXPECT_EQ(ip_syntax.exit_code, 0) << ip_syntax.Describe();
  EXPECT_THAT(List(options_), ::testing::IsEmpty());
  Add(options_, "w");
  const ProcessResult brief_syntax = RunCli({"del", "-all"});
  EXPECT_EQ(brief_syntax.exit_code, 0) << brief_syntax.Describe();
  EXPECT_THAT(List(options_), ::testing::IsEmpty());
}

// ip-netns(8): deleting removes the name; the netns lives while a process (or fd) holds it.
TEST_F(RefTest, DeleteWhileHeldKeepsTheNetnsAlive) {
  Add(options_, "h");
  FileDescriptor holder_fd(open(Path("h").c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(holder_fd.valid());
  const NetnsIdentity identity = IdentifyNetns(holder_fd.get());

  Process holder(Cli({"exec", "h", "sh", "-c", "echo ready; exec cat"}), /*pipe_stdin=*/true);
  ASSERT_EQ(holder.ReadLine(kDeadline), "ready");
  const std::string holder_ns = "/proc/" + std::to_string(holder.pid()) + "/ns/net";
  EXPECT_TRUE(IdentityOfPath(holder_ns) == identity);
  EXPECT_THAT(Pids(options_, "h"), ElementsAre(holder.pid()));
  EXPECT_THAT(Identify(options_, holder.pid()), ElementsAre("h"));

  Delete(options_, "h");
  EXPECT_FALSE(Exists(Path("h")));
  EXPECT_TRUE(IdentifyNetns(holder_fd.get()) == identity) << "the fd still holds the netns";
  EXPECT_TRUE(IdentityOfPath(holder_ns) == identity) << "the process is still in it";
  EXPECT_THAT(Identify(options_, holder.pid()), ::testing::IsEmpty());

  holder.CloseStdin();
  const ProcessResult done = holder.Wait(kDeadline);
  EXPECT_EQ(done.exit_code, 0) << done.Describe();
}

// ---- exec ---------------------------------------------------------------------------------------

TEST_F(RefTest, ExecRunsInTheNetnsWithItsSysfs) {
  Add(options_, "e");
  {
    FileDescriptor ns(open(Path("e").c_str(), O_RDONLY | O_CLOEXEC));
    RouteClient(ns.get()).CreateBridge("refbr0");
  }
  const ProcessResult ns = RunCli({"exec", "e", "readlink", "/proc/self/ns/net"});
  ASSERT_EQ(ns.exit_code, 0) << ns.Describe();
  struct stat st {};
  ASSERT_EQ(stat(Path("e").c_str(), &st), 0);
  EXPECT_EQ(ns.out, "net:[" + std::to_string(st.st_ino) + "]\n");

  const ProcessResult links = RunCli({"exec", "e", "ls", "/sys/class/net"});
  ASSERT_EQ(links.exit_code, 0) << links.Describe();
  EXPECT_THAT(Lines(links.out), UnorderedElementsAre("lo", "refbr0"));

  // The old /sys may be a stack (the sandbox's sysfs over the host's): exec detaches the top one
  // and mounts its own, named after the netns, as ip does.
  const ProcessResult mounts = RunCli({"exec", "e", "cat", "/proc/self/mountinfo"});
  ASSERT_EQ(mounts.exit_code, 0) << mounts.Describe();
  std::string top_sys;
  for (const auto& line : Lines(mounts.out))
    if (line.find(" /sys ") != std::string::npos) top_sys = line;
  EXPECT_THAT(top_sys, HasSubstr(" - sysfs e ")) << mounts.out;
  EXPECT_FALSE(RouteClient().GetLink("refbr0")) << "the bridge lives in e only";
}

TEST_F(RefTest, ExecBindsEtcNetnsFilesAndLeavesCallerMountsAlone) {
  Add(options_, "e");
  ASSERT_EQ(mkdir(options_.etc_dir.c_str(), 0755), 0);
  ASSERT_EQ(mkdir((options_.etc_dir + "/e").c_str(), 0755), 0);
  WriteFile(options_.etc_dir + "/e/hosts", "192.0.2.1 ref-hosts-marker\n");
  WriteFile(options_.etc_dir + "/e/ref-no-such-file", "x\n");
  std::ifstream host_hosts("/etc/hosts");
  std::stringstream hosts_before;
  hosts_before << host_hosts.rdbuf();
  const std::string mounts_before = MountInfoText();

  const ProcessResult run = RunCli({"exec", "e", "cat", "/etc/hosts"});
  ASSERT_EQ(run.exit_code, 0) << run.Describe();
  EXPECT_EQ(run.out, "192.0.2.1 ref-hosts-marker\n");
  EXPECT_THAT(run.err, HasSubstr("warning: cannot bind"));
  EXPECT_THAT(run.err, HasSubstr("/etc/ref-no-such-file"));
  EXPECT_FALSE(Exists("/etc/ref-no-such-file")) << "exec creates nothing in /etc";

  EXPECT_EQ(MountInfoText(), mounts_before) << "no mount of exec may reach the caller";
  std::ifstream hosts_after("/etc/hosts");
  std::stringstream after;
  after << hosts_after.rdbuf();
  EXPECT_EQ(after.str(), hosts_before.str());
}

TEST_F(RefTest, ExecExitStatus) {
  Add(options_, "e");
  EXPECT_EQ(RunCli({"exec", "e", "sh", "-c", "exit 7"}).exit_code, 7);
  EXPECT_EQ(RunCli({"exec", "e", "false"}).exit_code, 1);
  EXPECT_EQ(RunCli({"exec", "e", "true"}).exit_code, 0);

  const ProcessResult missing_cmd = RunCli({"exec", "e", "ref-no-such-command"});
  EXPECT_EQ(missing_cmd.exit_code, 127) << missing_cmd.Describe();
  EXPECT_THAT(missing_cmd.err,
              StartsWith("netns-ref: cannot execute \"ref-no-such-command\": ENOENT"));
  const std::string plain = base_ + "/not-executable";
  WriteFile(plain, "no exec bit\n");
  ASSERT_EQ(chmod(plain.c_str(), 0644), 0);
  const ProcessResult not_executable = RunCli({"exec", "e", plain});
  EXPECT_EQ(not_executable.exit_code, 126) << not_executable.Describe();

  const ProcessResult no_cmd = RunCli({"exec", "e"});
  EXPECT_EQ(no_cmd.exit_code, 1) << no_cmd.Describe();
  EXPECT_EQ(no_cmd.err, "netns-ref: no command specified\n");
  const ProcessResult no_name = RunCli({"exec"});
  EXPECT_EQ(no_name.exit_code, 1) << no_name.Describe();
  EXPECT_EQ(no_name.err, "netns-ref: no netns name specified\n");
  const ProcessResult no_netns = RunCli({"exec", "nope", "true"});
  EXPECT_EQ(no_netns.exit_code, 1) << no_netns.Describe();
  EXPECT_THAT(no_netns.err, StartsWith("netns-ref: netns 'nope' does not exist"));
}

TEST_F(RefTest, ExecAllRunsOncePerName) {
  Add(options_, "p");
  Add(options_, "q");
  const ProcessResult run = RunCli({"-all", "exec", "sh", "-c", "exit 3"});
  EXPECT_EQ(run.exit_code, 0) << run.Describe();
  EXPECT_THAT(run.out, HasSubstr("\nnetns: p\n"));
  EXPECT_THAT(run.out, HasSubstr("\nnetns: q\n"));
}

// ---- identify / pids / attach -------------------------------------------------------------------

TEST_F(RefTest, AttachIdentifyAndPids) {
  Attach(options_, "me", getpid());
  Attach(options_, "me-too", getpid());
  EXPECT_TRUE(IdentityOfPath(Path("me")) == CurrentNetnsIdentity());
  EXPECT_THAT(Identify(options_, std::nullopt), UnorderedElementsAre("me", "me-too"));
  EXPECT_THAT(Identify(options_, getpid()), UnorderedElementsAre("me", "me-too"));
  const auto pids = Pids(options_, "me");
  EXPECT_NE(std::find(pids.begin(), pids.end(), getpid()), pids.end());

  const ProcessResult cli = RunCli({"identify", std::to_string(getpid())});
  EXPECT_EQ(cli.exit_code, 0) << cli.Describe();
  EXPECT_THAT(Lines(cli.out), UnorderedElementsAre("me", "me-too"));
  const ProcessResult not_pid = RunCli({"identify", "abc"});
  EXPECT_EQ(not_pid.exit_code, 1);
  EXPECT_EQ(not_pid.err, "netns-ref: specified string 'abc' is not a pid\n");

  Add(options_, "other");
  Process inside(Cli({"exec", "other", "sh", "-c", "echo ready; exec cat"}), true);
  ASSERT_EQ(inside.ReadLine(kDeadline), "ready");
  EXPECT_THAT(Pids(options_, "other"), ElementsAre(inside.pid()));
  const ProcessResult pids_cli = RunCli({"pids", "other"});
  EXPECT_EQ(pids_cli.out, std::to_string(inside.pid()) + "\n");
  inside.CloseStdin();
  EXPECT_EQ(inside.Wait(kDeadline).exit_code, 0);

  Delete(options_, "me");
  Delete(options_, "me-too");
  const ProcessResult none = RunCli({"identify"});
  EXPECT_EQ(none.out, "\n") << "no match prints an empty line, as ip";
}

// Makes one syscall fail with EPERM in the calling process from now on (seccomp): the plain bind
// of a name (mount with MS_BIND and without MS_REC, which the run folder's bind has), or unshare.
enum class Fault { kNameBind, kUnshare };
bool InjectFault(Fault fault) {
  std::vector<sock_filter> program = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
  };
  if (fault == Fault::kUnshare) {
    program.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_unshare, 0, 1));
  } else {
    program.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_mount, 0, 4));
    // The low half of the flags argument (x86-64 and arm64 are little-endian).
    program.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[3])));
    program.push_back(BPF_STMT(BPF_ALU | BPF_AND | BPF_K, MS_BIND | MS_REC));
    program.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, MS_BIND, 0, 1));
  }
  program.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM));
  program.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  sock_fprog prog{static_cast<unsigned short>(program.size()), program.data()};
  return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
         prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0;
}

// The wait status of a forked child, or nullopt (the child killed) when the deadline passes.
std::optional<int> WaitChild(pid_t child, milliseconds timeout) {
  FileDescriptor pidfd(static_cast<int>(syscall(SYS_pidfd_open, child, 0)));
  pollfd fd{pidfd.get(), POLLIN, 0};
  const bool exited = pidfd.valid() && poll(&fd, 1, static_cast<int>(timeout.count())) == 1;
  if (!exited) kill(child, SIGKILL);
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (!exited) return std::nullopt;
  return status;
}

// add removes the file it made when a later step fails. The fault is injected in a forked child
// (seccomp cannot be lifted); the child reports through its exit status: 0 EPERM seen, 2 the
// filter could not be installed, 3 add succeeded, 4 another error.
TEST_F(RefTest, FailedAddRemovesTheFile) {
  for (Fault fault : {Fault::kNameBind, Fault::kUnshare}) {
    SCOPED_TRACE(fault == Fault::kNameBind ? "bind fails" : "unshare fails");
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      if (!InjectFault(fault)) _exit(2);
      try {
        Add(options_, "f");
      } catch (const RefError& e) {
        _exit(e.err() == EPERM ? 0 : 4);
      }
      _exit(3);
    }
    const auto status = WaitChild(child, kDeadline);
    ASSERT_TRUE(status) << "the child did not finish in time";
    ASSERT_TRUE(WIFEXITED(*status));
    EXPECT_EQ(WEXITSTATUS(*status), 0);
    EXPECT_TRUE(Exists(options_.run_dir)) << "the run folder was set up before the fault";
    EXPECT_FALSE(Exists(Path("f")));
    EXPECT_THAT(MountsAt(Path("f")), ::testing::IsEmpty());
  }
}

TEST_F(RefTest, AttachMissingProcessCreatesNothing) {
  const auto [err, message] = ErrorOf([&] { Attach(options_, "z", 0x3fffffff); });
  EXPECT_EQ(err, ENOENT) << message;
  EXPECT_FALSE(Exists(Path("z")));
}

// ---- nsids --------------------------------------------------------------------------------------

TEST_F(RefTest, SetAndListIds) {
  Add(options_, "n1");
  Add(options_, "n2");
  EXPECT_EQ(SetNsid(options_, "n1", 7), 7);
  FileDescriptor n1(open(Path("n1").c_str(), O_RDONLY | O_CLOEXEC));
  FileDescriptor n2(open(Path("n2").c_str(), O_RDONLY | O_CLOEXEC));
  RouteClient client;
  EXPECT_EQ(client.GetNsid(n1.get()), 7);
  const int auto_id = SetNsid(options_, "n2", -1);
  EXPECT_GE(auto_id, 0);
  EXPECT_NE(auto_id, 7);
  EXPECT_EQ(client.GetNsid(n2.get()), auto_id);

  const auto [err, message] = ErrorOf([&] { SetNsid(options_, "n1", 8); });
  EXPECT_EQ(err, EEXIST) << message;

  std::vector<std::string> listed;
  for (const auto& entry : ListIds(options_)) listed.push_back(entry.ToString());
  std::vector<std::string> expected;
  for (int nsid : client.DumpNsids()) {
    if (nsid == 7) {
      expected.push_back("nsid 7 (iproute2 netns name: n1)");
    } else if (nsid == auto_id) {
      expected.push_back("nsid " + std::to_string(auto_id) + " (iproute2 netns name: n2)");
    } else {
      expected.push_back("nsid " + std::to_string(nsid) + " ");
    }
  }
  EXPECT_EQ(listed, expected);
  const ProcessResult cli = RunCli({"list-id"});
  EXPECT_EQ(cli.exit_code, 0) << cli.Describe();
  EXPECT_THAT(Lines(cli.out), ::testing::Contains("nsid 7 (iproute2 netns name: n1)"));

  std::vector<std::string> list;
  for (const auto& entry : List(options_)) list.push_back(entry.ToString());
  EXPECT_THAT(list, UnorderedElementsAre("n1 (id: 7)", "n2 (id: " + std::to_string(auto_id) + ")"));
  const ProcessResult set_cli = RunCli({"set", "n2", "-1"});
  EXPECT_EQ(set_cli.exit_code, 1) << set_cli.Describe();
}

// ---- monitor ------------------------------------------------------------------------------------

TEST_F(RefTest, MonitorReportsNamesNotPlainFiles) {
  Monitor monitor(options_);
  const auto deadline = [] { return std::chrono::steady_clock::now() + kDeadline; };
  Add(options_, "a");
  auto event = monitor.Next(deadline());
  ASSERT_TRUE(event);
  EXPECT_EQ(event->ToString(), "add a");

  WriteFile(Path("junk"), "");  // iproute2 would print "add junk"
  Add(options_, "b");
  event = monitor.Next(deadline());
  ASSERT_TRUE(event);
  EXPECT_EQ(event->ToString(), "add b");

  ASSERT_EQ(unlink(Path("junk").c_str()), 0);
  Delete(options_, "b");
  event = monitor.Next(deadline());
  ASSERT_TRUE(event);
  EXPECT_EQ(event->ToString(), "delete b");
  Delete(options_, "a");
  event = monitor.Next(deadline());
  ASSERT_TRUE(event);
  EXPECT_EQ(event->ToString(), "delete a");
}

TEST_F(RefTest, MonitorCommandPrintsAddAndDelete) {
  ASSERT_EQ(mkdir(options_.run_dir.c_str(), 0755), 0);
  Process monitor(Cli({"monitor"}));
  // The monitor gives no sign that its watch is in place: add probe names until one is seen.
  const auto deadline = std::chrono::steady_clock::now() + kDeadline;
  bool seen = false;
  for (int i = 0; !seen && std::chrono::steady_clock::now() < deadline; ++i) {
    const std::string probe = "probe" + std::to_string(i);
    Add(options_, probe);
    while (auto line = monitor.ReadLine(milliseconds(200))) {
      if (*line == "add " + probe) {
        seen = true;
        break;
      }
    }
  }
  ASSERT_TRUE(seen) << "the monitor never reported a probe";
  Add(options_, "m");
  auto next_line = [&]() -> std::string {
    while (auto line = monitor.ReadLine(kDeadline)) {
      if (line->find("probe") == std::string::npos) return *line;
    }
    return "<nothing>";
  };
  EXPECT_EQ(next_line(), "add m");
  Delete(options_, "m");
  EXPECT_EQ(next_line(), "delete m");
}

// ---- concurrency --------------------------------------------------------------------------------

// Racing processes must not stack run-folder mounts (Debian #949235) nor lose or corrupt names.
TEST_F(RefTest, ConcurrentAddsAndDeletes) {
  constexpr int kCount = 20;
  std::vector<std::unique_ptr<Process>> first;
  for (int i = 0; i < kCount; ++i)
    first.push_back(std::make_unique<Process>(Cli({"add", "c" + std::to_string(i)})));
  for (auto& process : first) {
    const ProcessResult result = process->Wait(kDeadline);
    EXPECT_EQ(result.exit_code, 0) << result.Describe();
  }
  std::vector<std::unique_ptr<Process>> second;
  std::set<std::string> expected;
  for (int i = 0; i < kCount; ++i) {
    if (i % 2 == 0) {
      second.push_back(std::make_unique<Process>(Cli({"del", "c" + std::to_string(i)})));
    } else {
      expected.insert("c" + std::to_string(i));
    }
    second.push_back(std::make_unique<Process>(Cli({"add", "d" + std::to_string(i)})));
    expected.insert("d" + std::to_string(i));
  }
  for (auto& process : second) {
    const ProcessResult result = process->Wait(kDeadline);
    EXPECT_EQ(result.exit_code, 0) << result.Describe();
  }
  EXPECT_THAT(Names(List(options_)), UnorderedElementsAreArray(expected));
  for (const auto& name : expected) {
    EXPECT_TRUE(IsNsfsMount(Path(name))) << name;
    EXPECT_EQ(MountsAt(Path(name)).size(), 1u) << name;
  }
  const auto run_mounts = MountsAt(options_.run_dir);
  ASSERT_EQ(run_mounts.size(), 1u) << "the run folder is bound once, whatever the race";
  EXPECT_THAT(run_mounts[0].optional_fields, HasSubstr("shared:"));
}

// ---- the run folder -----------------------------------------------------------------------------

TEST_F(RefTest, RunDirMissingIsCreatedAndShared) {
  Add(options_, "a");
  struct stat st {};
  ASSERT_EQ(stat(options_.run_dir.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  const auto mounts = MountsAt(options_.run_dir);
  ASSERT_EQ(mounts.size(), 1u);
  EXPECT_THAT(mounts[0].optional_fields, HasSubstr("shared:"));
}

TEST_F(RefTest, RunDirNotAMountIsBoundOnItself) {
  ASSERT_EQ(mkdir(options_.run_dir.c_str(), 0700), 0);
  ASSERT_THAT(MountsAt(options_.run_dir), ::testing::IsEmpty());
  Add(options_, "a");
  Add(options_, "b");  // a second add finds a mount point: no second bind
  const auto mounts = MountsAt(options_.run_dir);
  ASSERT_EQ(mounts.size(), 1u);
  EXPECT_THAT(mounts[0].optional_fields, HasSubstr("shared:"));
  struct stat st {};
  ASSERT_EQ(stat(options_.run_dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u) << "an existing folder keeps its mode";
}

TEST_F(RefTest, RunDirAlreadySharedIsUsedAsIs) {
  ASSERT_EQ(mkdir(options_.run_dir.c_str(), 0755), 0);
  ASSERT_EQ(mount("tmpfs", options_.run_dir.c_str(), "tmpfs", 0, "mode=0755"), 0);
  ASSERT_EQ(mount("", options_.run_dir.c_str(), nullptr, MS_SHARED, nullptr), 0);
  const auto before = MountsAt(options_.run_dir);
  ASSERT_EQ(before.size(), 1u);
  Add(options_, "a");
  const auto after = MountsAt(options_.run_dir);
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].id, before[0].id);
  EXPECT_EQ(after[0].optional_fields, before[0].optional_fields) << "same peer group";
  EXPECT_EQ(after[0].fstype, "tmpfs");
}

TEST_F(RefTest, RunDirParentMissingFails) {
  options_.run_dir = base_ + "/missing/run";
  const auto [err, message] = ErrorOf([&] { Add(options_, "a"); });
  EXPECT_EQ(err, ENOENT) << message;
  EXPECT_FALSE(Exists(base_ + "/missing"));
}

TEST_F(RefTest, RunDirFromEnvironment) {
  const std::string env_dir = base_ + "/env-run";
  Process add({"env", "NETNS_RUN_DIR=" + env_dir, RefBinary(), "add", "v"});
  const ProcessResult result = add.Wait(kDeadline);
  ASSERT_EQ(result.exit_code, 0) << result.Describe();
  EXPECT_TRUE(IsNsfsMount(env_dir + "/v"));
  Options env_options = options_;
  env_options.run_dir = env_dir;
  Delete(env_options, "v");
}

}  // namespace
}  // namespace conform::ref

int main(int argc, char** argv) {
  // The private /tmp of the sandbox hides a build tree under /tmp (a clone there, say): the
  // binary is held by an fd opened before, and started through /proc/self/fd.
  const int ref_fd = open(NETNS_REF_BIN, O_PATH);
  if (ref_fd < 0) {
    std::fprintf(stderr, "ref_test: cannot open %s: %s\n", NETNS_REF_BIN, std::strerror(errno));
    return 1;
  }
  conform::ref::RefBinaryPath() = "/proc/self/fd/" + std::to_string(ref_fd);
  // Before gtest and before any thread: unshare(CLONE_NEWNS) needs a single-threaded process.
  if (const std::string error = conform::EnterSelfSandbox(); !error.empty()) {
    std::fprintf(stderr, "ref_test: cannot enter a private sandbox (%s); run as root\n",
                 error.c_str());
    return 1;
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
