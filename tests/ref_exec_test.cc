// Tests of the reference ip-netns(8): exec.
// Runs sandboxed: see tests/ref_test_main.cc.
#include "tests/ref_test_support.h"

namespace conform::ref {
namespace {

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

}  // namespace
}  // namespace conform::ref
