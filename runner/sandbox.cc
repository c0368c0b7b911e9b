#include "runner/sandbox.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "fixtures/sandbox_mounts.h"

namespace conform {
namespace {

[[noreturn]] void Fail(const char* step) {
  std::fprintf(stderr, "netns-conform sandbox: %s: %s\n", step, std::strerror(errno));
  _exit(kSandboxSetupFailed);
}

void Check(int rc, const char* step) {
  if (rc != 0) Fail(step);
}

// The parent pid of process `pid` from /proc/PID/stat, or -1 when it is gone.
pid_t ParentOf(const char* pid) {
  std::ifstream in(std::string("/proc/") + pid + "/stat");
  std::string stat;
  std::getline(in, stat);
  // "PID (COMM) STATE PPID ...": COMM may hold spaces and parentheses, so look after the last ')'.
  const size_t close = stat.rfind(')');
  if (close == std::string::npos || close + 4 >= stat.size()) return -1;
  return static_cast<pid_t>(std::strtol(stat.c_str() + close + 4, nullptr, 10));
}

// Kills and reaps every process below the caller, a child subreaper: whatever the case left
// running, even in another session, has been re-parented to it. Round after round, because the
// children of a killed process are re-parented here in turn; done when nothing is left to reap.
void KillDescendants() {
  const pid_t self = getpid();
  for (;;) {
    if (DIR* proc = opendir("/proc")) {
      while (const dirent* entry = readdir(proc)) {
        if (entry->d_name[0] < '1' || entry->d_name[0] > '9') continue;
        if (ParentOf(entry->d_name) == self) kill(std::atoi(entry->d_name), SIGKILL);
      }
      closedir(proc);
    }
    if (waitpid(-1, nullptr, 0) < 0 && errno == ECHILD) return;
  }
}

volatile sig_atomic_t launcher_died = 0;
void OnLauncherDeath(int) { launcher_died = 1; }

// Runs as PID 1 of the case's PID namespace. The case itself runs as PID 2, never as PID 1: the
// kernel drops every signal a namespace's init has no handler for, even one it sends itself, so
// a case as PID 1 would survive its own raise(SIGSEGV) or abort(), and nothing would reap the
// orphans it leaves. PID 1 waits for the case, reaping everything else, and hands the case's
// wait status to sandbox-exec through status_fd.
// Without a PID namespace (SandboxOptions::new_pid_ns false) it is the case's keeper instead: a
// child subreaper in a process group of its own, which kills everything below it when the case
// has ended or when sandbox-exec dies (SIGTERM as its death signal), since no namespace's death
// does that for it.
[[noreturn]] void CaseInit(const std::vector<std::string>& argv, bool own_netns, bool new_pid_ns,
                           int lifeline_fd, int status_fd) {
  if (new_pid_ns) {
    // The runner's SIGKILL reaches the sandbox-exec process; this makes it reach us too, and the
    // death of a PID namespace's init kills everything else inside it.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
  } else {
    // Out of sandbox-exec's process group, so that the runner's kill of that group (a timeout,
    // an interruption) reaches us as the death signal below and we can clean up; SIGKILL would
    // leave behind whatever the case started in another session.
    setpgid(0, 0);
    struct sigaction on_death {};
    on_death.sa_handler = OnLauncherDeath;  // no SA_RESTART: waitpid below returns EINTR
    sigaction(SIGTERM, &on_death, nullptr);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    prctl(PR_SET_CHILD_SUBREAPER, 1);
  }
  // sandbox-exec may have died before the prctl: then its end of the lifeline is closed.
  pollfd lifeline{lifeline_fd, POLLIN, 0};
  if (poll(&lifeline, 1, 0) != 0) _exit(kSandboxSetupFailed);
  // Held open across the mounts below: the private /tmp would hide a program that lives under
  // /tmp (a checkout there, say), so the case is started from this fd, not from its path.
  const int program_fd =
      argv[0].find('/') == std::string::npos ? -1 : open(argv[0].c_str(), O_PATH | O_CLOEXEC);
  // The programs the case starts in turn live beside it (netns-ref for the tool scenarios): when
  // that folder is under /tmp it is bound back, read-only, at its own path inside the private
  // /tmp below.
  std::string program_dir;
  int program_dir_fd = -1;
  if (program_fd >= 0) {
    char resolved[PATH_MAX];
    if (realpath(argv[0].c_str(), resolved)) {
      program_dir = resolved;
      program_dir.erase(program_dir.rfind('/'));
      if (program_dir.rfind("/tmp/", 0) == 0)
        program_dir_fd = open(program_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    }
  }
  // A /proc of this PID namespace (so that getpid() and /proc/<pid> agree), a sysfs tagged with
  // the case's netns (so /sys/class/net shows the case's devices, not the host's), private /tmp
  // and /run/netns.
  if (auto error = MakeSandboxMounts(/*fresh_proc=*/new_pid_ns, /*fresh_sys=*/own_netns);
      !error.empty()) {
    std::fprintf(stderr, "netns-conform sandbox: %s\n", error.c_str());
    _exit(kSandboxSetupFailed);
  }
  if (program_dir_fd >= 0) {
    // Only inside the private tmpfs: every folder made here goes with the sandbox.
    for (size_t slash = 1; (slash = program_dir.find('/', slash)) != std::string::npos; ++slash)
      mkdir(program_dir.substr(0, slash).c_str(), 0755);
    mkdir(program_dir.c_str(), 0755);
    const std::string source = "/proc/self/fd/" + std::to_string(program_dir_fd);
    Check(mount(source.c_str(), program_dir.c_str(), nullptr, MS_BIND, nullptr),
          "bind the program's folder back");
    // gVisor refuses the read-only remount (EINVAL). There nothing can reach the host's files
    // anyway: `runsc do` shows the host read-only under a tmpfs overlay that lives in memory.
    if (mount(nullptr, program_dir.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr) !=
            0 &&
        !(errno == EINVAL && getenv(kInGvisorEnv)))
      Fail("make the program's folder read-only");
  }

  // Everything the child needs is prepared here: it is a vfork child (it shares this memory until
  // it execs), so it may only make system calls. vfork spares a copy of the page tables per case.
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  const std::string exec_failed = "netns-conform sandbox: exec " + argv[0] + ": ";
  const pid_t child = vfork();
  if (child < 0) Fail("vfork the case");
  if (child == 0) {
    // A keeper's case must not outlive it (in a PID namespace, init's death does this).
    if (!new_pid_ns) prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (program_fd >= 0) {
      syscall(SYS_execveat, program_fd, "", args.data(), environ, AT_EMPTY_PATH);
    } else {
      execvp(args[0], args.data());
    }
    // strerrordesc_np only looks the text up in a table: safe in a vfork child.
    const char* why = strerrordesc_np(errno);
    (void)!write(STDERR_FILENO, exec_failed.data(), exec_failed.size());
    if (why) (void)!write(STDERR_FILENO, why, std::strlen(why));
    (void)!write(STDERR_FILENO, "\n", 1);
    _exit(127);
  }
  int status = 0;
  for (;;) {
    int reaped_status = 0;
    const pid_t reaped = waitpid(-1, &reaped_status, 0);
    if (launcher_died) {
      KillDescendants();
      _exit(kSandboxSetupFailed);
    }
    if (reaped < 0 && errno == EINTR) continue;
    if (reaped < 0) Fail("waitpid(case)");
    if (reaped == child) {
      status = reaped_status;
      break;
    }
  }
  (void)!write(status_fd, &status, sizeof(status));
  // The death of init kills whatever the case left running in the namespace; a keeper kills it.
  if (!new_pid_ns) KillDescendants();
  _exit(0);
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
  int lifeline[2], case_status[2];
  Check(pipe2(lifeline, O_CLOEXEC), "pipe2");
  Check(pipe2(case_status, O_CLOEXEC), "pipe2");
  const pid_t init = fork();
  if (init < 0) Fail("fork");
  if (init == 0) {
    close(lifeline[1]);
    close(case_status[0]);
    CaseInit(argv, own_netns, options.new_pid_ns, lifeline[0], case_status[1]);
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
