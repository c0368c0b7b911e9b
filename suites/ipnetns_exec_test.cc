// ip-netns(8), SEMANTICS.md §8. `exec` and `-all exec`: the command runs in the named
// netns with a private mount namespace, a fresh sysfs of that netns and /etc/netns/NAME bound over
// /etc, leaves every other process alone, and exits with the command's status
// (ipnetns8.exec.*, sem.B8.3).
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
#include "fixtures/syscall_matchers.h"
#include "suites/ipnetns_helpers.h"

namespace conform {
namespace {

using namespace ipnetns;  // the helpers every ip-netns(8) suite shares

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// =====================================================================================
// exec
// =====================================================================================

NETNS_TEST(IpNetnsExec, ExecRunsInTheNamedNetnsWithItsSysfs, "ipnetns8.exec.runs-in-named-netns",
           .kconfigs = {"CONFIG_VETH"}) {
  REQUIRE_SANDBOX();
  Scratch s;
  ref::Add(s.options, "a");
  RouteClient().CreateVeth("ipn-run-b", "va", s.Open("a").get());  // ipn-run-b here, va in a
  ASSERT_EQ(access("/sys/class/net/ipn-run-b", F_OK), 0) << "control: this sysfs shows ipn-run-b";
  auto child = RunInChild({}, [&](ChildChannel& ch) {
    ref::SwitchInto(s.options, "a");
    ch.Note("netns", CurrentNetnsIdentity().ToString());
    ch.Record("access_va", access("/sys/class/net/va", F_OK));
    ch.Record("access_peer", access("/sys/class/net/ipn-run-b", F_OK));
    ch.Record("access_lo", access("/sys/class/net/lo", F_OK));
    ch.Note("netlink_va", RouteClient().GetLink("va") ? "yes" : "no");
  });
  ASSERT_TRUE(child.Ok()) << child.Describe();
  EXPECT_EQ(child.notes["netns"], s.Identity("a"));
  EXPECT_THAT(child.Call("access_va"), SyscallSucceeds()) << "/sys is not the named netns's";
  EXPECT_THAT(child.Call("access_peer"), SyscallFailsWithErrno(ENOENT)) << "the old /sys shows";
  EXPECT_THAT(child.Call("access_lo"), SyscallSucceeds());
  EXPECT_EQ(child.notes["netlink_va"], "yes");
  // A missing name: nothing runs.
  auto missing = RunInChild({}, [&](ChildChannel& ch) {
    ch.Record("switched", 0);
    ref::SwitchInto(s.options, "nope");
  });
  EXPECT_EQ(missing.exit_code, 1) << missing.Describe();
  EXPECT_THAT(missing.notes["exception"], HasSubstr("does not exist")) << missing.Describe();
}

NETNS_TEST(IpNetnsExec, ExecBindsEtcNetnsFilesOverEtc, "ipnetns8.exec.bind-mounts-etc-netns") {
  REQUIRE_SANDBOX();
  Scratch s;
  ref::Add(s.options, "a");
  // An /etc file every system has; its per-netns version lives in /etc/netns/a/ (private to the
  // sandbox: a tmpfs on the host's /etc/netns, or an overlay over /etc where the host has none;
  // see Scratch::MakeEtcFolder for a sandbox whose /etc is read-only).
  const std::string entry = Exists("/etc/hosts") ? "hosts" : "passwd";
  const std::string original = ReadText("/etc/" + entry);
  const std::string ours = "# netns-conform: /etc/netns/a/" + entry + "\n";
  const std::string absent = "netns-conform-absent-" + std::to_string(getpid());
  ASSERT_FALSE(Exists("/etc/" + absent));
  const std::string dir = s.MakeEtcFolder("a");
  ASSERT_FALSE(dir.empty()) << "cannot make " << s.options.etc_dir << "/a: " << ErrnoName(errno);
  ASSERT_TRUE(WriteText(dir + "/" + entry, ours));
  ASSERT_TRUE(WriteText(dir + "/" + absent, "x\n"));

  auto child = RunInChild({}, [&](ChildChannel& ch) {
    ref::Options options = s.options;
    options.warn = [&](const std::string& message) { ch.Note("warning", message); };
    ref::SwitchInto(options, "a");
    ch.Note("content", ReadText("/etc/" + entry) == ours ? "ours" : "other");
    ch.Record("absent", access(("/etc/" + absent).c_str(), F_OK));
    ch.Note("mounted", std::to_string(MountsAt("/etc/" + entry).size()));
  });
  ASSERT_TRUE(child.Ok()) << child.Describe();
  EXPECT_EQ(child.notes["content"], "ours")
      << "the command does not see /etc/netns/a/" << entry << " at /etc/" << entry;
  EXPECT_EQ(child.notes["mounted"], "1");
  // An entry without an /etc target: a warning, and nothing is created in /etc.
  EXPECT_THAT(child.Call("absent"), SyscallFailsWithErrno(ENOENT));
  EXPECT_THAT(child.notes["warning"], HasSubstr(absent));
  EXPECT_FALSE(Exists("/etc/" + absent));
  // Outside the command, /etc is untouched.
  EXPECT_EQ(ReadText("/etc/" + entry), original);
  EXPECT_THAT(MountsAt("/etc/" + entry), IsEmpty());
  // Control: a netns without an /etc/netns folder sees the global file.
  ref::Add(s.options, "b");
  auto plain = RunInChild({}, [&](ChildChannel& ch) {
    ref::SwitchInto(s.options, "b");
    ch.Note("same", ReadText("/etc/" + entry) == original ? "yes" : "no");
  });
  ASSERT_TRUE(plain.Ok()) << plain.Describe();
  EXPECT_EQ(plain.notes["same"], "yes");
}

NETNS_TEST(IpNetnsExec, ExecLeavesOtherProcessesAlone, "ipnetns8.exec.other-processes-unaffected",
           .kconfigs = {"CONFIG_VETH"}) {
  REQUIRE_SANDBOX();
  Scratch s;
  ref::Add(s.options, "a");
  RouteClient().CreateVeth("ipn-oth-b", "va", s.Open("a").get());
  const std::string entry = Exists("/etc/hosts") ? "hosts" : "passwd";
  const std::string original = ReadText("/etc/" + entry);
  const std::string dir = s.MakeEtcFolder("a");
  ASSERT_FALSE(dir.empty()) << "cannot make " << s.options.etc_dir << "/a: " << ErrnoName(errno);
  ASSERT_TRUE(WriteText(dir + "/" + entry, "# netns a\n"));
  const std::string netns_before = CurrentNetnsIdentity().ToString();
  const auto sys_before = MountsAt("/sys");
  const std::string mnt_before = ReadText("/proc/self/mountinfo");

  SwitchedProcess command(s.options, "a");  // the command runs, and stays, in a
  ASSERT_EQ(command.error(), "");
  EXPECT_EQ(IdentityOf(ProcNet(command.pid())), s.Identity("a"));
  // This process: same netns, same /sys, same /etc, same mount table.
  EXPECT_EQ(CurrentNetnsIdentity().ToString(), netns_before);
  EXPECT_EQ(access("/sys/class/net/ipn-oth-b", F_OK), 0);
  EXPECT_NE(access("/sys/class/net/va", F_OK), 0);
  EXPECT_EQ(ReadText("/etc/" + entry), original);
  EXPECT_EQ(ReadText("/proc/self/mountinfo"), mnt_before) << "exec's mounts leaked out";
  // A process started now is not affected either.
  auto bystander = RunInChild({}, [&](ChildChannel& ch) {
    ch.Note("netns", CurrentNetnsIdentity().ToString());
    ch.Note("etc", ReadText("/etc/" + entry) == original ? "original" : "changed");
    ch.Record("access_peer", access("/sys/class/net/ipn-oth-b", F_OK));
  });
  ASSERT_TRUE(bystander.Ok()) << bystander.Describe();
  EXPECT_EQ(bystander.notes["netns"], netns_before);
  EXPECT_EQ(bystander.notes["etc"], "original");
  EXPECT_THAT(bystander.Call("access_peer"), SyscallSucceeds());
  // The command itself does see the changes (control), in a mount namespace of its own.
  const std::string theirs = "/proc/" + std::to_string(command.pid()) + "/mountinfo";
  bool sysfs_a = false;
  for (const auto& m : MountsAt("/sys", theirs))
    sysfs_a |= (m.fstype == "sysfs" && m.source == "a");
  EXPECT_TRUE(sysfs_a) << "the command has no sysfs of a on /sys";
  EXPECT_EQ(MountsAt("/etc/" + entry, theirs).size(), 1u);
  struct stat ours_mnt {
  }, their_mnt{};
  ASSERT_THAT(stat("/proc/self/ns/mnt", &ours_mnt), SyscallSucceeds());
  ASSERT_THAT(stat(("/proc/" + std::to_string(command.pid()) + "/ns/mnt").c_str(), &their_mnt),
              SyscallSucceeds());
  EXPECT_NE(ours_mnt.st_ino, their_mnt.st_ino) << "exec did not make a mount namespace";
}

NETNS_TEST(IpNetnsExec, ExecMountsSysfsOfTheNetnsInASlaveMountNamespace,
           "sem.B8.3.exec-mounts-netns-sysfs") {
  REQUIRE_SANDBOX();
  Scratch s;
  ref::Add(s.options, "a");
  // A shared mount of this (private) sandbox: exec's slave copy must receive from it, and give
  // nothing back.
  const std::string shared = "/tmp/ipn-shared-" + std::to_string(getpid());
  ASSERT_THAT(mkdir(shared.c_str(), 0755), SyscallSucceeds());
  ASSERT_THAT(mount("tmpfs", shared.c_str(), "tmpfs", 0, "size=64k"), SyscallSucceeds());
  Cleanup unmount([&] {
    umount2(shared.c_str(), MNT_DETACH);
    rmdir(shared.c_str());
  });
  ASSERT_THAT(mount("", shared.c_str(), nullptr, MS_SHARED, nullptr), SyscallSucceeds());
  ASSERT_THAT(mkdir((shared + "/sub").c_str(), 0755), SyscallSucceeds());
  const size_t sys_here = MountsAt("/sys").size();
  auto child = RunInChild({}, [&](ChildChannel& ch) {
    ref::SwitchInto(s.options, "a");
    const auto sys = MountsAt("/sys");
    ch.Note("sys_count", std::to_string(sys.size()));
    if (!sys.empty()) {
      ch.Note("sys_fstype", sys.back().fstype);
      ch.Note("sys_source", sys.back().source);
    }
    const auto tmp = MountsAt(shared);
    ch.Note("shared_fields", tmp.empty() ? "none" : tmp.back().optional_fields);
    // A mount made by the command must not come back to the caller.
    ch.Record("mount_sub", mount("tmpfs", (shared + "/sub").c_str(), "tmpfs", 0, "size=64k"));
  });
  ASSERT_TRUE(child.Ok()) << child.Describe();
  // The sandbox's /sys is a sysfs over the host's: exec detaches the top one and mounts its own,
  // so the command has as many mounts on /sys as the caller (one more if none was detached).
  EXPECT_EQ(child.notes["sys_count"], std::to_string(sys_here)) << "the old /sys was not detached";
  EXPECT_EQ(child.notes["sys_fstype"], "sysfs");
  EXPECT_EQ(child.notes["sys_source"], "a") << "mountinfo should read 'sysfs a'";
  EXPECT_THAT(child.notes["shared_fields"], HasSubstr("master:"))
      << "the command's mounts are not slaves of the caller's";
  EXPECT_THAT(child.notes["shared_fields"], ::testing::Not(HasSubstr("shared:")))
      << "slave, not shared";
  EXPECT_THAT(child.Call("mount_sub"), SyscallSucceeds());
  EXPECT_THAT(MountsAt(shared + "/sub"), IsEmpty()) << "a mount of the command propagated back";
  EXPECT_EQ(MountsAt("/sys").size(), sys_here) << "exec's sysfs reached the caller";
  EXPECT_THAT(MountsAt("/sys").back().source, ::testing::Ne("a"));
}

std::string InodeText(const std::string& path) {  // "net:[INO]", as readlink shows /proc/PID/ns/net
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return "";
  return "net:[" + std::to_string(st.st_ino) + "]";
}

NETNS_TEST(IpNetnsExec, ExecExitStatusIsTheCommands, "sem.B8.3.exec-exit-status") {
  REQUIRE_SANDBOX();
  Scratch s;
  ref::Add(s.options, "a");
  CliResult seven = RunRefCommand(s, {"exec", "a", "/bin/sh", "-c", "exit 7"});
  EXPECT_EQ(seven.exit_code, 7) << seven.Describe();
  CliResult zero = RunRefCommand(s, {"exec", "a", "/bin/sh", "-c", "exit 0"});
  EXPECT_EQ(zero.exit_code, 0) << zero.Describe();
  // In place: the command is the very process that ran exec (no fork), in the named netns.
  CliResult self =
      RunRefCommand(s, {"exec", "a", "/bin/sh", "-c", "echo $$; readlink /proc/self/ns/net"});
  EXPECT_EQ(self.exit_code, 0) << self.Describe();
  EXPECT_THAT(Lines(self.out), ElementsAre(std::to_string(self.pid), InodeText(s.Path("a"))))
      << self.Describe();
  // A missing netns: an error, and the command never runs (ip exits 255, the reference 1).
  CliResult missing = RunRefCommand(s, {"exec", "nope", "/bin/sh", "-c", "echo ran"});
  EXPECT_EQ(missing.exit_code, 1) << missing.Describe();
  EXPECT_EQ(missing.out, "") << missing.Describe();
  // No command: 1.
  CliResult no_command = RunRefCommand(s, {"exec", "a"});
  EXPECT_EQ(no_command.exit_code, 1) << no_command.Describe();
  EXPECT_THAT(no_command.err, HasSubstr("no command")) << no_command.Describe();
  // A command that cannot be run: ip exits 1; the reference 127 (not found) / 126 (not
  // executable), as env(1) and nsenter(1), so that it differs from a command exiting 1.
  CliResult not_found =
      RunRefCommand(s, {"exec", "a", "/nonexistent/netns-conform-" + std::to_string(getpid())});
  EXPECT_NE(not_found.exit_code, 0) << not_found.Describe();
  EXPECT_EQ(not_found.exit_code, 127) << not_found.Describe();
  CliResult not_executable = RunRefCommand(s, {"exec", "a", "/"});
  EXPECT_EQ(not_executable.exit_code, 126) << not_executable.Describe();
  // -all exec exits 0 even when every command fails.
  ref::Add(s.options, "b");
  CliResult all = RunRefCommand(s, {"-all", "exec", "/bin/sh", "-c", "exit 3"});
  EXPECT_EQ(all.exit_code, 0) << all.Describe();
}

// -all exec's output: for each name "\nnetns: NAME\n", then the command's own output. Returns
// name -> the command's lines, and the order of the headers.
struct AllExecOutput {
  std::vector<std::string> headers;
  std::map<std::string, std::vector<std::string>> lines;
  bool blank_before_each_header = true;
};

AllExecOutput ParseAllExec(const std::string& out) {
  AllExecOutput parsed;
  const auto lines = Lines(out);
  std::string current;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].rfind("netns: ", 0) == 0) {
      current = lines[i].substr(7);
      parsed.headers.push_back(current);
      if (i == 0 || !lines[i - 1].empty()) parsed.blank_before_each_header = false;
    } else if (!lines[i].empty() || (i + 1 < lines.size() && lines[i + 1].rfind("netns: ", 0))) {
      parsed.lines[current].push_back(lines[i]);
    }
  }
  return parsed;
}

NETNS_TEST(IpNetnsExec, AllExecRunsInEveryNetnsEvenWhenTheCommandFails,
           "ipnetns8.exec.all-runs-in-every-netns") {
  REQUIRE_SANDBOX();
  Scratch s;
  for (const char* name : {"a", "b", "c"}) ref::Add(s.options, name);
  // The command prints the netns it runs in and fails in b only.
  const std::string fail_in = InodeText(s.Path("b"));
  const std::string script =
      "n=$(readlink /proc/self/ns/net); echo \"$n\"; [ \"$n\" != '" + fail_in + "' ]";
  CliResult cli = RunRefCommand(s, {"-all", "exec", "/bin/sh", "-c", script});
  EXPECT_EQ(cli.exit_code, 0) << cli.Describe();
  AllExecOutput parsed = ParseAllExec(cli.out);
  EXPECT_THAT(parsed.headers, UnorderedElementsAre("a", "b", "c")) << cli.Describe();
  for (const char* name : {"a", "b", "c"})
    EXPECT_THAT(parsed.lines[name], ElementsAre(InodeText(s.Path(name))))
        << "the command did not run (once, synchronously) in " << name << ": " << cli.Describe();
  // The names in the order of the run folder, as list shows them; the caller's netns never.
  EXPECT_EQ(parsed.headers, ref::ReadNames(s.options.run_dir));
  EXPECT_THAT(cli.out, ::testing::Not(HasSubstr(InodeText("/proc/self/ns/net"))));
  // No names: nothing runs, still 0.
  Scratch empty;
  CliResult none = RunRefCommand(empty, {"-all", "exec", "/bin/sh", "-c", "echo ran"});
  EXPECT_EQ(none.exit_code, 0) << none.Describe();
  EXPECT_EQ(none.out, "") << none.Describe();
}

NETNS_TEST(IpNetnsExec, AllExecPrintsEachNameBeforeItsCommand, "ipnetns8.exec.all-prints-name") {
  REQUIRE_SANDBOX();
  Scratch s;
  for (const char* name : {"one", "two"}) ref::Add(s.options, name);
  CliResult cli = RunRefCommand(
      s, {"-all", "exec", "/bin/sh", "-c", "echo start; readlink /proc/self/ns/net; exit 1"});
  EXPECT_EQ(cli.exit_code, 0) << cli.Describe();
  AllExecOutput parsed = ParseAllExec(cli.out);
  EXPECT_THAT(parsed.headers, UnorderedElementsAre("one", "two")) << cli.Describe();
  EXPECT_TRUE(parsed.blank_before_each_header) << cli.Describe();
  for (const char* name : {"one", "two"})
    EXPECT_THAT(parsed.lines[name], ElementsAre("start", InodeText(s.Path(name))))
        << "the header of " << name
        << " is not right before its command's output: " << cli.Describe();
  EXPECT_THAT(cli.out, ::testing::StartsWith("\nnetns: ")) << cli.Describe();
  // A name whose command cannot even start is still announced.
  ref::Add(s.options, "three");
  CliResult missing_cmd = RunRefCommand(s, {"-all", "exec", "/nonexistent/netns-conform"});
  EXPECT_EQ(missing_cmd.exit_code, 0) << missing_cmd.Describe();
  EXPECT_THAT(ParseAllExec(missing_cmd.out).headers, UnorderedElementsAre("one", "two", "three"))
      << missing_cmd.Describe();
}

}  // namespace
}  // namespace conform
