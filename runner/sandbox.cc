#include "runner/sandbox.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "fixtures/case_sandbox.h"

namespace conform {
namespace {

[[noreturn]] void Fail(const char* step) {
  std::fprintf(stderr, "netns-conform sandbox: %s: %s\n", step, std::strerror(errno));
  _exit(kSandboxSetupFailed);
}

void Check(int rc, const char* step) {
  if (rc != 0) Fail(step);
}

// Starts the case as a child of the init (fixtures/case_sandbox.h) by exec'ing argv.
pid_t ExecCase(const std::vector<std::string>& argv, int program_fd, bool new_pid_ns) {
  // Everything the child needs is prepared here: it is a vfork child (it shares this memory until
  // it execs), so it may only make system calls. vfork spares a copy of the page tables per case.
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  const std::string exec_failed = "netns-conform sandbox: exec " + argv[0] + ": ";
  // The analyzer's vfork checks allow exec* and _exit only; prctl and the execveat syscall are
  // plain system calls, which a vfork child may make.
  const pid_t child = vfork();  // NOLINT(clang-analyzer-security.insecureAPI.vfork)
  if (child != 0) return child;
  // A keeper's case must not outlive it (in a PID namespace, init's death does this).
  if (!new_pid_ns) prctl(PR_SET_PDEATHSIG, SIGKILL);  // NOLINT(clang-analyzer-unix.Vfork)
  if (program_fd >= 0) {
    // NOLINTNEXTLINE(clang-analyzer-unix.Vfork)
    syscall(SYS_execveat, program_fd, "", args.data(), environ, AT_EMPTY_PATH);
  } else {
    execvp(args[0], args.data());  // NOLINT(clang-analyzer-unix.Vfork)
  }
  // strerrordesc_np only looks the text up in a table: safe in a vfork child.
  const char* why = strerrordesc_np(errno);
  (void)!write(STDERR_FILENO, exec_failed.data(), exec_failed.size());
  if (why) (void)!write(STDERR_FILENO, why, std::strlen(why));
  (void)!write(STDERR_FILENO, "\n", 1);
  _exit(127);
}

}  // namespace

void SandboxExec(const std::vector<std::string>& argv, const SandboxOptions& options) {
  if (argv.empty()) {
    std::fprintf(stderr, "netns-conform sandbox: no command\n");
    _exit(kSandboxSetupFailed);
  }
  // The runner itself is killed with SIGKILL in the worst case: take the sandbox down with it.
  prctl(PR_SET_PDEATHSIG, SIGKILL);

  bool own_netns = true;
  const int pid_flag = options.new_pid_ns ? CLONE_NEWPID : 0;
  if (unshare(CLONE_NEWNS | CLONE_NEWNET | pid_flag) != 0) {
    // A kernel built without CONFIG_NET_NS rejects CLONE_NEWNET with EINVAL. Its cases cannot
    // reach a netns anyway; they still get private mount and PID namespaces.
    if (errno != EINVAL || access("/proc/self/ns/net", F_OK) == 0) Fail("unshare");
    Check(unshare(CLONE_NEWNS | pid_flag), "unshare(CLONE_NEWNS[|CLONE_NEWPID])");
    own_netns = false;
  }
  // Held open across the init's mounts: the private /tmp would hide a program that lives under
  // /tmp (a checkout there, say), so the case is started from this fd, not from its path.
  const int program_fd =
      argv[0].find('/') == std::string::npos ? -1 : open(argv[0].c_str(), O_PATH | O_CLOEXEC);
  int lifeline[2], case_status[2];
  Check(pipe2(lifeline, O_CLOEXEC), "pipe2");
  Check(pipe2(case_status, O_CLOEXEC), "pipe2");
  const pid_t init = fork();
  if (init < 0) Fail("fork");
  if (init == 0) {
    close(lifeline[1]);
    close(case_status[0]);
    const CaseInitOptions init_options{.new_pid_ns = options.new_pid_ns,
                                       .own_netns = own_netns,
                                       .program_dir = ProgramDirUnderTmp(argv[0]),
                                       .lifeline_fd = lifeline[0],
                                       .status_fd = case_status[1]};
    RunCaseInit(init_options, [&] { return ExecCase(argv, program_fd, options.new_pid_ns); });
  }
  close(lifeline[0]);
  close(case_status[1]);

  int status = 0;
  while (waitpid(init, &status, 0) < 0) {
    if (errno != EINTR) Fail("waitpid");
  }
  // The case's own status when it ended; init's (its setup failure, or SIGKILL) otherwise.
  int reported = 0;
  if (read(case_status[0], &reported, sizeof(reported)) == sizeof(reported)) status = reported;
  if (WIFSIGNALED(status)) {
    // Die the same way, so the runner sees the case's real signal.
    const int sig = WTERMSIG(status);
    signal(sig, SIG_DFL);
    prctl(PR_SET_DUMPABLE, 0);  // no core file from the re-raise
    kill(getpid(), sig);
    _exit(128 + sig);
  }
  _exit(WEXITSTATUS(status));
}

void PrivateTmpfsExec(const std::string& dir, const std::vector<std::string>& argv) {
  if (argv.empty()) {
    std::fprintf(stderr, "netns-conform sandbox: no command\n");
    _exit(kSandboxSetupFailed);
  }
  Check(unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)");
  Check(mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr), "make / private");
  // 0755: runsc's sandbox process drops to an unprivileged user and must reach its state.
  Check(mount("tmpfs", dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755"),
        "mount the private tmpfs");
  Check(setenv("TMPDIR", dir.c_str(), 1), "setenv TMPDIR");
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  execvp(args[0], args.data());
  std::fprintf(stderr, "netns-conform sandbox: exec %s: %s\n", argv[0].c_str(),
               std::strerror(errno));
  _exit(kSandboxSetupFailed);
}

}  // namespace conform
