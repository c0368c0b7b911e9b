// netns-conform-bench: what the in-place sandbox costs on this machine (DESIGN.md §9). It prints
// numbers, never pass/fail:
//   1. unshare(CLONE_NEWNET) itself, each in a fresh short-lived thread (the namespace dies with
//      the thread, so nothing piles up in the benchmark process);
//   2. process launches, taken round-robin so that a change in machine load hits all alike:
//      /bin/true and `netns-conform sandbox-exec -- /bin/true` started with Boost.Process as the
//      runner starts a case, the runner's bare start-up (`netns-conform --version`), the suite
//      binary running no test (alone, and inside sandbox-exec), the same with posix_spawn, and the
//      same sandbox made by one clone3(CLONE_NEWNS|CLONE_NEWNET|CLONE_NEWPID) from this process
//      whose init posix_spawn()s the case as PID 2 (no runner exec, no middle process);
//   3. the sandbox-exec stages replayed in a forked child (unshare, fork of the case init, mounts,
//      fork of the case as PID 2, its exec and exit, the init's exit, the sandbox's exit) with a
//      timestamp between each;
//   4. the real runner on the full suite (`netns-conform run --out DIR -j 1`, then the runner's
//      default -j, alternating): whole-suite wall time, and per started case the runner-measured
//      duration_s minus the case's own time (case_s, measured by the suite binary; else read
//      from the "[       OK ] Suite.Case (N ms)" (or FAILED / SKIPPED) line of its log).
// Everything that creates namespaces does so in a child process or a thread that dies with them.
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

#include <CLI/CLI.hpp>
#include <algorithm>
#include <boost/process.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "fixtures/error.h"
#include "fixtures/probe.h"
#include "fixtures/sandbox_mounts.h"
#include "reports/json_report.h"

namespace bp = boost::process;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using Json = nlohmann::ordered_json;

namespace {

double MsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

double MonotonicMs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

struct Stats {
  size_t n = 0;
  double min = 0, median = 0, p90 = 0, max = 0, mean = 0;
};

// Median (mean of the middle two for an even count) and nearest-rank p90.
Stats Summarize(std::vector<double> values) {
  Stats s;
  s.n = values.size();
  if (values.empty()) return s;
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  s.min = values.front();
  s.max = values.back();
  s.median = n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
  s.p90 = values[static_cast<size_t>(std::ceil(0.9 * static_cast<double>(n))) - 1];
  double sum = 0;
  for (double v : values) sum += v;
  s.mean = sum / static_cast<double>(n);
  return s;
}

double Round3(double v) { return std::round(v * 1000) / 1000; }

Json StatsJson(const Stats& s) {
  return {{"n", s.n},
          {"median_ms", Round3(s.median)},
          {"p90_ms", Round3(s.p90)},
          {"min_ms", Round3(s.min)},
          {"max_ms", Round3(s.max)},
          {"mean_ms", Round3(s.mean)}};
}

std::string StatsLine(const Stats& s) {
  char buf[200];
  std::snprintf(buf, sizeof(buf), "median %8.3f ms  p90 %8.3f ms  (min %.3f, max %.3f, n=%zu)",
                s.median, s.p90, s.min, s.max, s.n);
  return buf;
}

void PrintStats(const std::string& label, const Stats& s, const std::string& suffix = "") {
  std::printf("  %-46s %s%s\n", label.c_str(), StatsLine(s).c_str(), suffix.c_str());
}

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen;
}

std::vector<char*> ArgvPointers(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  return args;
}

std::string Join(const std::vector<std::string>& argv) {
  std::string text;
  for (const auto& arg : argv) text += (text.empty() ? "" : " ") + arg;
  return text;
}

int WaitStatus(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw conform::SystemError("waitpid", errno);
  }
  return status;
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

// One way of starting a process and waiting for it; returns the wall time in ms and throws when
// the process does not exit 0.
using LaunchOnce = std::function<double()>;

// fork + exec with Boost.Process, stdio on /dev/null: how the runner starts a case.
LaunchOnce BoostLaunch(const std::vector<std::string>& argv,
                       const std::map<std::string, std::string>& extra_env = {}) {
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

extern "C" char** environ;

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

// The same sandbox as sandbox-exec (case init as PID 1 of fresh mount, net and PID namespaces,
// the sandbox mounts, the case as PID 2, reaped by the init) made without exec'ing the runner
// and without the middle process: one clone3(CLONE_NEWNS|CLONE_NEWNET|CLONE_NEWPID) from this
// process makes the init, which posix_spawn()s the case.
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

double ChildrenCpuMs() {
  rusage usage{};
  getrusage(RUSAGE_CHILDREN, &usage);
  auto ms = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) * 1e3 + static_cast<double>(tv.tv_usec) / 1e3;
  };
  return ms(usage.ru_utime) + ms(usage.ru_stime);
}

struct Launch {
  std::string key;    // JSON key
  std::string label;  // human-readable
  std::string command;
  LaunchOnce once;
  std::vector<double> wall_ms;
  double cpu_ms = 0;  // user+sys of the reaped process trees, summed
};

// Runs every launch `rounds` times, one of each per round, so that load that comes and goes
// during the measurement hits all of them alike.
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

// ---- 4. the real runner on the full suite ------------------------------------------------------

// The case's own time as gtest measured it: "[       OK ] Suite.Case (N ms)" (or FAILED /
// SKIPPED). gtest truncates to whole milliseconds, so every overhead below is good to +-1 ms.
std::optional<double> GtestCaseMs(const fs::path& log, const std::string& id) {
  static const std::regex line_re(R"(^\[ *(OK|FAILED|SKIPPED) *\] (\S+) \((\d+) ms\)\s*$)");
  std::ifstream in(log);
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_match(line, m, line_re) && m[2] == id) return std::stod(m[3]);
  }
  return std::nullopt;
}

struct SuiteRun {
  int exit_code = 0;
  double wall_s = 0;
  double runner_duration_s = 0;  // summary.duration_s as the runner measured it
  conform::Summary summary;
  std::vector<double> overhead_ms;      // per measured case: duration_s - case_s, in ms
  std::vector<double> case_ms;          // runner-measured duration of the same cases
  std::vector<std::string> unmeasured;  // started cases whose log has no gtest time line
};

SuiteRun RunSuite(const fs::path& runner, const fs::path& out, int jobs) {
  SuiteRun run;
  std::vector<std::string> args = {"run", "--out", out.string()};
  if (jobs > 0) args.insert(args.end(), {"-j", std::to_string(jobs)});
  const fs::path console = out.string() + ".console.txt";
  const auto start = Clock::now();
  bp::child child(runner.string(), bp::args(args), (bp::std_out & bp::std_err) > console.string(),
                  bp::std_in < bp::null);
  child.wait();
  run.wall_s = MsSince(start) / 1000;
  run.exit_code = child.exit_code();
  if (run.exit_code != 0 && run.exit_code != 1)
    throw std::runtime_error("the runner exited with status " + std::to_string(run.exit_code) +
                             "; see " + console.string());

  const conform::RunResult result = conform::ReadResultsFile(out / "results.json");
  run.runner_duration_s = result.summary.duration_s;
  run.summary = result.summary;
  for (const auto& c : result.cases) {
    if (c.log.empty()) continue;  // skipped by the planner: never started, nothing to measure
    // The suite's own microsecond measurement (case_s) where the runner recorded it; gtest's
    // whole-millisecond log line otherwise.
    auto own =
        c.case_s > 0 ? std::optional<double>(c.case_s * 1000) : GtestCaseMs(out / c.log, c.id);
    if (!own) {
      run.unmeasured.push_back(c.id + " (" + conform::StatusName(c.status) + ")");
      continue;
    }
    run.case_ms.push_back(c.duration_s * 1000);
    run.overhead_ms.push_back(c.duration_s * 1000 - *own);
  }
  return run;
}

fs::path DefaultRunner() {
  return fs::read_symlink("/proc/self/exe").parent_path() / "netns-conform";
}

fs::path MakeWorkDir(const std::string& given, bool& made) {
  if (!given.empty()) {
    fs::create_directories(given);
    made = false;
    return fs::absolute(given);
  }
  std::string templ = (fs::temp_directory_path() / "netns-conform-bench.XXXXXX").string();
  if (!mkdtemp(templ.data())) throw conform::SystemError("mkdtemp " + templ, errno);
  made = true;
  return templ;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"netns-conform-bench: in-place sandbox and runner costs on this machine",
               "netns-conform-bench"};
  std::string runner_path, json_path, work_dir;
  int iterations = 200, launch_runs = 100, suite_runs = 3, jobs = 0;
  bool no_suite = false, keep = false;
  app.add_option("--runner", runner_path, "the runner (default: netns-conform beside this binary)");
  app.add_option("--iterations", iterations, "unshare(CLONE_NEWNET) iterations")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app.add_option("--launch-runs", launch_runs, "rounds of the process-launch measurements")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app.add_option("--suite-runs", suite_runs, "full-suite runs per -j setting")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  app.add_option("-j,--jobs", jobs, "the parallel run's -j (default: the runner's own default)")
      ->check(CLI::Range(1, 256));
  app.add_flag("--no-suite", no_suite, "skip the full-suite runs");
  app.add_option("--json", json_path, "also write the numbers as JSON to this file");
  app.add_option("--work-dir", work_dir,
                 "folder for the runs' output (default: a fresh temporary folder, removed)");
  app.add_flag("--keep", keep, "keep the runs' output folder");
  CLI11_PARSE(app, argc, argv);

  try {
    const fs::path runner = runner_path.empty() ? DefaultRunner() : fs::absolute(runner_path);
    if (!fs::exists(runner)) throw std::runtime_error("runner not found: " + runner.string());
    const fs::path suite = runner.parent_path() / "netns-conform-suite";
    const bool has_suite = fs::exists(suite);
    const long cpus = sysconf(_SC_NPROCESSORS_ONLN);

    Json report;
    report["machine"] = {{"kernel_release", conform::KernelRelease()},
                         {"cpus", cpus},
                         {"load_average_at_start", LoadAverage()}};
    report["runner"] = runner.string();
    std::printf("netns-conform-bench on %s, %ld CPUs, load average %s\n",
                conform::KernelRelease().c_str(), cpus, LoadAverage().c_str());

    // 1.
    std::printf("\nunshare(CLONE_NEWNET), each in a fresh thread:\n");
    const Stats unshare_cost = UnshareCost(iterations);
    PrintStats("unshare(CLONE_NEWNET)", unshare_cost);
    report["unshare_newnet"] = StatsJson(unshare_cost);

    // 2.
    std::printf("\nprocess launches, round-robin (wall to reap; mean CPU of the process tree):\n");
    const std::vector<std::string> suite_no_test = {suite.string(),
                                                    "--gtest_filter=NoSuchSuite.NoSuchCase"};
    std::vector<std::string> sandboxed_suite = {runner.string(), "sandbox-exec", "--"};
    sandboxed_suite.insert(sandboxed_suite.end(), suite_no_test.begin(), suite_no_test.end());
    const std::vector<std::string> true_argv = {"/bin/true"};
    const std::vector<std::string> version_argv = {runner.string(), "--version"};
    const std::vector<std::string> sandboxed_true = {runner.string(), "sandbox-exec", "--",
                                                     "/bin/true"};
    // The static per-case launcher the runner uses when it is beside it (runner/sandbox_main.cc).
    const fs::path launcher = runner.parent_path() / "netns-conform-sandbox";
    const bool has_launcher = fs::exists(launcher);
    const std::vector<std::string> launcher_true = {launcher.string(), "--", "/bin/true"};
    std::vector<std::string> launcher_suite = {launcher.string(), "--"};
    launcher_suite.insert(launcher_suite.end(), suite_no_test.begin(), suite_no_test.end());
    std::vector<Launch> launches;
    launches.push_back({"spawn_true", "/bin/true", Join(true_argv), BoostLaunch(true_argv)});
    launches.push_back({"posix_spawn_true", "/bin/true with posix_spawn", Join(true_argv),
                        PosixSpawnLaunch(true_argv)});
    launches.push_back({"runner_startup", "netns-conform --version", Join(version_argv),
                        BoostLaunch(version_argv)});
    launches.push_back({"sandbox_exec_true", "netns-conform sandbox-exec -- /bin/true",
                        Join(sandboxed_true), BoostLaunch(sandboxed_true)});
    if (has_launcher)
      launches.push_back({"launcher_true", "netns-conform-sandbox -- /bin/true",
                          Join(launcher_true), BoostLaunch(launcher_true)});
    if (has_suite && has_launcher)
      launches.push_back({"launcher_suite_no_test", "netns-conform-sandbox -- suite (no test)",
                          Join(launcher_suite), BoostLaunch(launcher_suite)});
    if (has_suite) {
      // With the sandbox variable set the suite makes no sandbox of its own; it runs no test.
      launches.push_back({"suite_startup_no_test", "suite alone (no test, no sandbox)",
                          Join(suite_no_test),
                          BoostLaunch(suite_no_test, {{conform::kInSandboxEnv, "1"}})});
      launches.push_back({"sandbox_exec_suite_no_test", "sandbox-exec -- suite (no test)",
                          Join(sandboxed_suite), BoostLaunch(sandboxed_suite)});
      launches.push_back({"posix_spawn_sandbox_exec_suite_no_test",
                          "sandbox-exec -- suite (no test), posix_spawn", Join(sandboxed_suite),
                          PosixSpawnLaunch(sandboxed_suite)});
      launches.push_back({"direct_clone3_suite_no_test", "clone3 init + posix_spawn case: suite",
                          "clone3(NEWNS|NEWNET|NEWPID) init, mounts, posix_spawn " +
                              Join(suite_no_test) + " as PID 2",
                          DirectCloneLaunch(suite_no_test)});
    }
    RunRoundRobin(launches, launch_runs);
    std::map<std::string, double> median;
    for (const auto& launch : launches) {
      const Stats wall = Summarize(launch.wall_ms);
      const double cpu = launch.cpu_ms / static_cast<double>(launch.wall_ms.size());
      char suffix[64];
      std::snprintf(suffix, sizeof(suffix), "  cpu %.2f ms", cpu);
      PrintStats(launch.label, wall, suffix);
      report[launch.key] = StatsJson(wall);
      report[launch.key]["cpu_ms_mean"] = Round3(cpu);
      report[launch.key]["command"] = launch.command;
      median[launch.key] = wall.median;
    }
    Json derived;
    auto derive = [&](const char* key, const char* label, double value) {
      std::printf("  %-46s %8.3f ms\n", label, value);
      derived[key] = Round3(value);
    };
    std::printf(" medians compared:\n");
    derive("sandbox_cost_ms", "sandbox-exec /bin/true - /bin/true",
           median["sandbox_exec_true"] - median["spawn_true"]);
    derive("runner_exec_cost_ms", "runner --version - /bin/true",
           median["runner_startup"] - median["spawn_true"]);
    derive("boost_fork_over_posix_spawn_ms", "/bin/true: Boost.Process - posix_spawn",
           median["spawn_true"] - median["posix_spawn_true"]);
    if (has_launcher)
      derive("launcher_cost_ms", "netns-conform-sandbox /bin/true - /bin/true",
             median["launcher_true"] - median["spawn_true"]);
    if (has_suite) {
      derive("suite_startup_cost_ms", "suite alone (no test) - /bin/true",
             median["suite_startup_no_test"] - median["spawn_true"]);
      derive(
          "saved_by_posix_spawn_ms", "sandbox-exec suite: Boost.Process - posix_spawn",
          median["sandbox_exec_suite_no_test"] - median["posix_spawn_sandbox_exec_suite_no_test"]);
      derive("saved_by_direct_clone3_ms", "sandbox-exec suite - clone3 init + posix_spawn",
             median["sandbox_exec_suite_no_test"] - median["direct_clone3_suite_no_test"]);
    }
    report["medians_compared"] = derived;

    // 3.
    std::printf("\nsandbox-exec stages, replayed in a forked child (no runner exec):\n");
    report["sandbox_stages"] = Json::object();
    for (const auto& [name, stats] : SandboxStages(launch_runs)) {
      PrintStats(name, stats);
      report["sandbox_stages"][name] = StatsJson(stats);
    }

    // 4.
    if (!no_suite) {
      bool made_dir = false;
      const fs::path dir = MakeWorkDir(work_dir, made_dir);
      report["overhead_source"] =
          "per started case: results.json duration_s minus the case's own time (case_s, else the "
          "gtest time on the case log's "
          "'[ OK|FAILED|SKIPPED ] Suite.Case (N ms)' line (gtest truncates to whole ms, so each "
          "overhead is good to about +1 ms)";
      std::printf(
          "\nfull suite through the runner, -j 1 and -j default alternating\n"
          "(per-case overhead = results.json duration_s - the case's own time, case_s):\n");
      struct Setting {
        int jobs;
        std::string name;
        std::vector<double> walls, overheads, case_ms;
        std::vector<std::string> unmeasured;
        Json runs = Json::array();
      };
      std::vector<Setting> settings = {{1, "-j 1"},
                                       {jobs, jobs ? "-j " + std::to_string(jobs)
                                                   : "-j default (" + std::to_string(cpus) + ")"}};
      for (int r = 0; r < suite_runs; ++r) {
        for (auto& setting : settings) {
          const fs::path out =
              dir / ("j" + (setting.jobs ? std::to_string(setting.jobs) : std::string("default")) +
                     "-run" + std::to_string(r + 1));
          const SuiteRun run = RunSuite(runner, out, setting.jobs);
          setting.walls.push_back(run.wall_s * 1000);
          setting.overheads.insert(setting.overheads.end(), run.overhead_ms.begin(),
                                   run.overhead_ms.end());
          setting.case_ms.insert(setting.case_ms.end(), run.case_ms.begin(), run.case_ms.end());
          setting.unmeasured.insert(setting.unmeasured.end(), run.unmeasured.begin(),
                                    run.unmeasured.end());
          const auto& s = run.summary;
          setting.runs.push_back({{"wall_s", Round3(run.wall_s)},
                                  {"runner_duration_s", Round3(run.runner_duration_s)},
                                  {"exit_code", run.exit_code},
                                  {"total", s.total},
                                  {"passed", s.passed},
                                  {"failed", s.failed},
                                  {"skipped", s.skipped},
                                  {"errors", s.errors},
                                  {"timeouts", s.timeouts},
                                  {"missed", s.missed},
                                  {"cases_measured", run.overhead_ms.size()},
                                  {"overhead_ms", StatsJson(Summarize(run.overhead_ms))}});
          std::printf(
              "  %-22s run %d: wall %.3f s (runner %.3f s); %d passed, %d failed, "
              "%d skipped, %d errors, %d timeouts; %zu cases measured\n",
              setting.name.c_str(), r + 1, run.wall_s, run.runner_duration_s, s.passed, s.failed,
              s.skipped, s.errors, s.timeouts, run.overhead_ms.size());
        }
      }
      report["suite"] = Json::array();
      std::optional<double> median_overhead_j1;
      for (auto& setting : settings) {
        const Stats overhead = Summarize(setting.overheads);
        PrintStats(setting.name + ": per-case overhead", overhead);
        PrintStats(setting.name + ": per-case duration", Summarize(setting.case_ms));
        PrintStats(setting.name + ": whole-suite wall time", Summarize(setting.walls));
        for (const auto& id : setting.unmeasured)
          std::printf("    no gtest time in the log of %s\n", id.c_str());
        if (setting.jobs == 1) median_overhead_j1 = overhead.median;
        report["suite"].push_back({{"jobs", setting.jobs ? Json(setting.jobs) : Json("default")},
                                   {"effective_jobs", setting.jobs ? setting.jobs : cpus},
                                   {"per_case_overhead_ms", StatsJson(overhead)},
                                   {"per_case_duration_ms", StatsJson(Summarize(setting.case_ms))},
                                   {"suite_wall_ms", StatsJson(Summarize(setting.walls))},
                                   {"unmeasured_cases", setting.unmeasured},
                                   {"runs", setting.runs}});
      }
      if (median_overhead_j1) {
        const bool met = *median_overhead_j1 <= 10.0;
        report["target"] = {{"median_per_case_overhead_ms_at_most", 10},
                            {"measured_at_j1_ms", Round3(*median_overhead_j1)},
                            {"met", met}};
        std::printf("\ntarget: median per-case overhead <= 10 ms at -j 1: measured %.3f ms (%s)\n",
                    *median_overhead_j1, met ? "met" : "NOT met");
      }
      if (made_dir && !keep) {
        fs::remove_all(dir);
      } else {
        std::printf("runs kept in %s\n", dir.c_str());
        report["work_dir"] = dir.string();
      }
    }
    report["machine"]["load_average_at_end"] = LoadAverage();
    std::printf("load average at the end: %s\n", LoadAverage().c_str());

    if (!json_path.empty()) {
      conform::WriteFileAtomically(json_path, report.dump(2) + "\n");
      std::printf("numbers written to %s\n", json_path.c_str());
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "netns-conform-bench: %s\n", e.what());
    return 2;
  }
  return 0;
}
