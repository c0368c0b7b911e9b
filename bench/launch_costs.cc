// Sections 1-3 of netns-conform-bench (bench/launch_costs.h): unshare(CLONE_NEWNET), process
// launches, and the sandbox-exec stages replayed.
#include "bench/launch_costs.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/process.hpp>
#include <cerrno>
#include <csignal>
#include <iterator>
#include <stdexcept>
#include <thread>

#include "fixtures/error.h"
#include "fixtures/sandbox_mounts.h"

extern "C" char** environ;

namespace conform::bench {

namespace bp = boost::process;

namespace {

std::vector<char*> ArgvPointers(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  return args;
}

int WaitStatus(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw conform::SystemError("waitpid", errno);
  }
  return status;
}

}  // namespace

std::string Join(const std::vector<std::string>& argv) {
  std::string text;
  for (const auto& arg : argv) text += (text.empty() ? "" : " ") + arg;
  return text;
}

// ---- 1. unshare(CLONE_NEWNET) ----------------------------------------------------------------

// Each call in its own thread: the thread's netns reference goes when it exits, so every
// iteration creates exactly one netns and the benchmark process never holds more than one.
Stats UnshareCost(int iterations) {
  std::vector<double> samples;
  for (int i = 0; i < iterations; ++i) {
    double elapsed = -1;
    int err = 0;
    std::thread worker([&] {
      const double start = MonotonicMs();
      if (unshare(CLONE_NEWNET) != 0) {
        err = errno;
        return;
      }
      elapsed = MonotonicMs() - start;
    });
    worker.join();
    if (elapsed < 0) throw conform::SystemError("unshare(CLONE_NEWNET)", err);
    samples.push_back(elapsed);
  }
  return Summarize(samples);
}

// ---- 2. process launches -----------------------------------------------------------------------

LaunchOnce BoostLaunch(const std::vector<std::string>& argv,
                       const std::map<std::string, std::string>& extra_env) {
  bp::environment env = boost::this_process::environment();
  for (const auto& [key, value] : extra_env) env[key] = value;
  return [argv, env] {
    const auto start = Clock::now();
    bp::child child(argv.front(), bp::args(std::vector<std::string>(argv.begin() + 1, argv.end())),
                    bp::std_out > bp::null, bp::std_err > bp::null, bp::std_in < bp::null, env);
    child.wait();
    const double elapsed = MsSince(start);
    if (child.exit_code() != 0)
      throw std::runtime_error(Join(argv) + " exited with status " +
                               std::to_string(child.exit_code()));
    return elapsed;
  };
}

namespace {

// Spawns argv with posix_spawn (glibc: clone(CLONE_VM|CLONE_VFORK), no page-table copy) and
// stdio on /dev/null; returns its pid.
pid_t PosixSpawn(std::vector<char*>& args) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  for (int fd : {STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO})
    posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", O_RDWR, 0);
  pid_t pid = -1;
  const int err = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (err != 0) throw conform::SystemError(std::string("posix_spawn ") + args[0], err);
  return pid;
}

}  // namespace

LaunchOnce PosixSpawnLaunch(const std::vector<std::string>& argv) {
  return [argv] {
    std::vector<char*> args = ArgvPointers(argv);
    const auto start = Clock::now();
    const int status = WaitStatus(PosixSpawn(args));
    const double elapsed = MsSince(start);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
      throw std::runtime_error(Join(argv) + " failed (wait status " + std::to_string(status) + ")");
    return elapsed;
  };
}

// One clone3(CLONE_NEWNS|CLONE_NEWNET|CLONE_NEWPID) from this process makes the init, which
// posix_spawn()s the case: no runner exec, no middle process.
LaunchOnce DirectCloneLaunch(const std::vector<std::string>& argv) {
  return [argv] {
    std::vector<char*> args = ArgvPointers(argv);
    const auto start = Clock::now();
    clone_args cl{};
    cl.flags = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID;
    cl.exit_signal = SIGCHLD;
    const long init = syscall(SYS_clone3, &cl, sizeof(cl));
    if (init < 0) throw conform::SystemError("clone3(NEWNS|NEWNET|NEWPID)", errno);
    if (init == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (!conform::MakeSandboxMounts(/*fresh_proc=*/true, /*fresh_sys=*/true).empty()) _exit(125);
      pid_t child = -1;
      try {
        child = PosixSpawn(args);
      } catch (...) {
        _exit(126);
      }
      for (;;) {  // reap everything; end with the case
        int status = 0;
        const pid_t reaped = waitpid(-1, &status, 0);
        if (reaped < 0 && errno == EINTR) continue;
        if (reaped < 0) _exit(124);
        if (reaped == child) _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128);
      }
    }
    const int status = WaitStatus(static_cast<pid_t>(init));
    const double elapsed = MsSince(start);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
      throw std::runtime_error("clone3 sandbox of " + Join(argv) + " failed (wait status " +
                               std::to_string(status) + ")");
    return elapsed;
  };
}

namespace {

// User+sys time of every reaped child (and their reaped descendants) so far.
double ChildrenCpuMs() {
  rusage usage{};
  getrusage(RUSAGE_CHILDREN, &usage);
  auto ms = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) * 1e3 + static_cast<double>(tv.tv_usec) / 1e3;
  };
  return ms(usage.ru_utime) + ms(usage.ru_stime);
}

}  // namespace

// The CPU of each launch is the growth of RUSAGE_CHILDREN across it: the process tree it
// started has been reaped by then, and nothing else is.
void RunRoundRobin(std::vector<Launch>& launches, int rounds) {
  for (int r = 0; r < rounds; ++r) {
    for (auto& launch : launches) {
      const double cpu_before = ChildrenCpuMs();
      launch.wall_ms.push_back(launch.once());
      launch.cpu_ms += ChildrenCpuMs() - cpu_before;
    }
  }
}

// ---- 3. the sandbox-exec stages, replayed ------------------------------------------------------

namespace {

// Timestamps (CLOCK_MONOTONIC, ms) written by the forked processes into shared memory.
struct StageClock {
  double sandbox_start;  // first instruction of the forked "sandbox-exec" process
  double unshared;       // after unshare(CLONE_NEWNS|CLONE_NEWNET|CLONE_NEWPID)
  double init_start;     // first instruction of the case init (PID 1 of the new PID namespace)
  double mounted;        // after MakeSandboxMounts (fresh /proc and /sys, tmpfs /tmp, /run/netns)
  double case_start;     // first instruction of the case (PID 2), before its exec
  double case_reaped;    // the init's waitpid of the case (the exec'd /bin/true) returned
  double init_reaped;    // the sandbox's waitpid of the init returned
  int failed;            // non-zero: the replay could not set up (errno)
};

const char* const kStageNames[] = {
    "fork of the sandbox process (to it running)", "unshare(NEWNS|NEWNET|NEWPID)",
    "fork of the case init (to it running)",       "sandbox mounts",
    "fork of the case, PID 2 (to it running)",     "exec /bin/true .. reaped by the init",
    "init exit .. reaped by the sandbox",          "sandbox exit .. reaped (incl. ns teardown)"};

}  // namespace

// Replays runner/sandbox.cc's SandboxExec with a timestamp between the stages, minus the exec
// of the runner binary itself (measured separately as `netns-conform --version`). The fork
// stages include the time until the scheduler first runs the new process.
std::vector<std::pair<std::string, Stats>> SandboxStages(int runs) {
  void* shared =
      mmap(nullptr, sizeof(StageClock), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (shared == MAP_FAILED) throw conform::SystemError("mmap", errno);
  auto* clock = static_cast<StageClock*>(shared);
  std::vector<std::vector<double>> samples(std::size(kStageNames));
  std::vector<double> total;
  for (int i = 0; i < runs; ++i) {
    *clock = StageClock{};
    const double start = MonotonicMs();
    const pid_t sandbox = fork();
    if (sandbox < 0) throw conform::SystemError("fork", errno);
    if (sandbox == 0) {
      clock->sandbox_start = MonotonicMs();
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID) != 0) {
        clock->failed = errno;
        _exit(1);
      }
      clock->unshared = MonotonicMs();
      const pid_t init = fork();
      if (init < 0) _exit(1);
      if (init == 0) {
        clock->init_start = MonotonicMs();
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (!conform::MakeSandboxMounts(/*fresh_proc=*/true, /*fresh_sys=*/true).empty()) {
          clock->failed = errno ? errno : EINVAL;
          _exit(1);
        }
        clock->mounted = MonotonicMs();
        const pid_t child = fork();
        if (child < 0) _exit(1);
        if (child == 0) {
          clock->case_start = MonotonicMs();
          execl("/bin/true", "/bin/true", static_cast<char*>(nullptr));
          clock->failed = errno;
          _exit(127);
        }
        int status = 0;
        while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
        }
        clock->case_reaped = MonotonicMs();
        _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
      }
      int status = 0;
      while (waitpid(init, &status, 0) < 0 && errno == EINTR) {
      }
      clock->init_reaped = MonotonicMs();
      _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
    }
    const int status = WaitStatus(sandbox);
    const double end = MonotonicMs();
    if (clock->failed) throw conform::SystemError("sandbox stage replay", clock->failed);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
      throw std::runtime_error("sandbox stage replay: the sandbox process failed");
    const double marks[] = {start,
                            clock->sandbox_start,
                            clock->unshared,
                            clock->init_start,
                            clock->mounted,
                            clock->case_start,
                            clock->case_reaped,
                            clock->init_reaped,
                            end};
    for (size_t s = 0; s < samples.size(); ++s) samples[s].push_back(marks[s + 1] - marks[s]);
    total.push_back(end - start);
  }
  munmap(shared, sizeof(StageClock));
  std::vector<std::pair<std::string, Stats>> result;
  for (size_t s = 0; s < samples.size(); ++s)
    result.emplace_back(kStageNames[s], Summarize(samples[s]));
  result.emplace_back("total", Summarize(total));
  return result;
}

}  // namespace conform::bench
