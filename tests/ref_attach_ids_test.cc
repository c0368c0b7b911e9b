// Tests of the reference ip-netns(8): identify, pids, attach (with a failed add undone), and
// nsids (set, list-id).
// Runs sandboxed: see tests/ref_test_main.cc.
#include "tests/ref_test_support.h"

namespace conform::ref {
namespace {

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

}  // namespace
}  // namespace conform::ref
