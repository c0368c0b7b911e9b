// netns-conform-bench: what the in-place sandbox costs on this machine (DESIGN.md §9). It prints
// numbers, never pass/fail:
//   1. unshare(CLONE_NEWNET) itself, each in a fresh short-lived thread (the namespace dies with
//      the thread, so nothing piles up in the benchmark process);
//   2. `netns-conform sandbox-exec -- /bin/true`, started with Boost.Process as the runner starts
//      a case, beside /bin/true started the same way, the runner's bare start-up
//      (`netns-conform --version`) and the suite binary in the sandbox running no test;
//   3. the sandbox-exec stages replayed in a forked child (unshare, fork of the case init,
//      mounts, exec, pid-namespace exit, sandbox exit) with a timestamp between each;
//   4. the real runner on the full suite (`netns-conform run --out DIR -j 1`, then the runner's
//      default -j): whole-suite wall time, and per case the runner-measured duration_s minus the
//      case's own gtest time, read from the "[       OK ] Suite.Case (N ms)" line of its log.
// Everything that creates namespaces does so in a child process or a thread that dies with them.
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
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
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <sstream>
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

nlohmann::json StatsJson(const Stats& s) {
  return {{"n", s.n},
          {"median_ms", Round3(s.median)},
          {"p90_ms", Round3(s.p90)},
          {"min_ms", Round3(s.min)},
          {"max_ms", Round3(s.max)},
          {"mean_ms", Round3(s.mean)}};
}

std::string StatsLine(const Stats& s) {
  char buf[200];
  std::snprintf(buf, sizeof(buf), "median %7.3f ms  p90 %7.3f ms  (min %.3f, max %.3f, n=%zu)",
                s.median, s.p90, s.min, s.max, s.n);
  return buf;
}

void PrintStats(const std::string& label, const Stats& s) {
  std::printf("  %-44s %s\n", label.c_str(), StatsLine(s).c_str());
}

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen;
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

// ---- 2. spawning, as the runner does -----------------------------------------------------------

struct SpawnStats {
  Stats wall;
  double cpu_ms_mean = 0;  // user+sys of the reaped process tree, per run
};

double ChildrenCpuMs() {
  rusage usage{};
  getrusage(RUSAGE_CHILDREN, &usage);
  auto ms = [](const timeval& tv) { return tv.tv_sec * 1e3 + tv.tv_usec / 1e3; };
  return ms(usage.ru_utime) + ms(usage.ru_stime);
}

// Starts argv `runs` times with Boost.Process (fork + exec, stdio to /dev/null, as the runner
// starts a case) and waits for each; wall time from before the spawn to after the reap.
SpawnStats SpawnCost(const std::vector<std::string>& argv,
                     const std::map<std::string, std::string>& extra_env, int runs) {
  bp::environment env = boost::this_process::environment();
  for (const auto& [key, value] : extra_env) env[key] = value;
  std::vector<double> samples;
  const double cpu_before = ChildrenCpuMs();
  for (int i = 0; i < runs; ++i) {
    const auto start = Clock::now();
    bp::child child(argv.front(), bp::args(std::vector<std::string>(argv.begin() + 1, argv.end())),
                    bp::std_out > bp::null, bp::std_err > bp::null, bp::std_in < bp::null, env);
    child.wait();
    samples.push_back(MsSince(start));
    if (child.exit_code() != 0) {
      std::string command;
      for (const auto& arg : argv) command += arg + " ";
      throw std::runtime_error(command + "exited with status " + std::to_string(child.exit_code()));
    }
  }
  return SpawnStats{Summarize(samples), (ChildrenCpuMs() - cpu_before) / std::max(runs, 1)};
}

// ---- 3. the sandbox-exec stages, replayed ------------------------------------------------------

// Timestamps (CLOCK_MONOTONIC, ms) written by the two forked processes into shared memory.
struct StageClock {
  double sandbox_start;  // first instruction of the forked "sandbox-exec" process
  double unshared;       // after unshare(CLONE_NEWNS|CLONE_NEWNET|CLONE_NEWPID)
  double init_start;     // first instruction of the case init (pid 1 of the new pid ns)
  double mounted;        // after MakeSandboxMounts (fresh /proc and /sys, tmpfs /tmp, /run/netns)
  double init_reaped;    // the sandbox's waitpid of the init (exec'd /bin/true) returned
  int failed;            // non-zero: the replay could not set up (errno)
};

const char* const kStageNames[] = {
    "fork of the sandbox process", "unshare(NEWNS|NEWNET|NEWPID)",
    "fork of the case init",       "sandbox mounts",
    "exec .. init reaped",         "sandbox exit .. reaped (ns teardown)"};

std::vector<char*> ArgvPointers(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  return args;
}

// Replays runner/sandbox.cc's SandboxExec with a timestamp between the stages, minus the exec
// of the runner binary itself (measured separately as `netns-conform --version`). The command's
// output goes to /dev/null.
std::map<std::string, Stats> SandboxStages(const std::vector<std::string>& argv, int runs) {
  std::vector<char*> args = ArgvPointers(argv);
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
        const int null_fd = open("/dev/null", O_RDWR);
        if (null_fd >= 0) {
          dup2(null_fd, STDOUT_FILENO);
          dup2(null_fd, STDERR_FILENO);
        }
        execv(args[0], args.data());
        clock->failed = errno;
        _exit(127);
      }
      int status = 0;
      while (waitpid(init, &status, 0) < 0 && errno == EINTR) {
      }
      clock->init_reaped = MonotonicMs();
      _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
    }
    int status = 0;
    while (waitpid(sandbox, &status, 0) < 0 && errno == EINTR) {
    }
    const double end = MonotonicMs();
    if (clock->failed) throw conform::SystemError("sandbox stage replay", clock->failed);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
      throw std::runtime_error("sandbox stage replay: the sandbox process failed");
    const double marks[] = {start,
                            clock->sandbox_start,
                            clock->unshared,
                            clock->init_start,
                            clock->mounted,
                            clock->init_reaped,
                            end};
    for (size_t s = 0; s < samples.size(); ++s) samples[s].push_back(marks[s + 1] - marks[s]);
    total.push_back(end - start);
  }
  munmap(shared, sizeof(StageClock));
  std::map<std::string, Stats> result;
  for (size_t s = 0; s < samples.size(); ++s) result[kStageNames[s]] = Summarize(samples[s]);
  result["total"] = Summarize(total);
  return result;
}

// The sandbox without the middle process: one clone3(CLONE_NEWNS|CLONE_NEWNET|CLONE_NEWPID)
// from the parent, whose child is pid 1 of the new pid namespace, makes the mounts and execs the
// command. What a case would cost if the runner made the sandbox itself instead of exec'ing
// `netns-conform sandbox-exec`.
Stats DirectCloneCost(const std::vector<std::string>& argv, int runs) {
  std::vector<char*> args = ArgvPointers(argv);
  std::vector<double> samples;
  for (int i = 0; i < runs; ++i) {
    const auto start = Clock::now();
    clone_args cl{};
    cl.flags = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID;
    cl.exit_signal = SIGCHLD;
    const long pid = syscall(SYS_clone3, &cl, sizeof(cl));
    if (pid < 0) throw conform::SystemError("clone3(NEWNS|NEWNET|NEWPID)", errno);
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (!conform::MakeSandboxMounts(/*fresh_proc=*/true, /*fresh_sys=*/true).empty()) _exit(125);
      const int null_fd = open("/dev/null", O_RDWR);
      if (null_fd >= 0) {
        dup2(null_fd, STDOUT_FILENO);
        dup2(null_fd, STDERR_FILENO);
      }
      execv(args[0], args.data());
      _exit(127);
    }
    int status = 0;
    while (waitpid(static_cast<pid_t>(pid), &status, 0) < 0 && errno == EINTR) {
    }
    samples.push_back(MsSince(start));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
      throw std::runtime_error("direct clone of " + argv.front() + " failed (status " +
                               std::to_string(status) + ")");
  }
  return Summarize(samples);
}

// ---- 4. the real runner on the full suite ------------------------------------------------------

// The case's own time as gtest measured it: "[       OK ] Suite.Case (N ms)" (or FAILED /
// SKIPPED). gtest truncates to whole milliseconds, so every overhead below is good to ±1 ms.
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
  int jobs = 0;  // 0: the runner's default
  int exit_code = 0;
  double wall_s = 0;
  double runner_duration_s = 0;  // summary.duration_s as the runner measured it
  int passed = 0, failed = 0, skipped = 0, errors = 0, timeouts = 0;
  std::vector<double> overhead_ms;      // per started case: duration_s*1000 - gtest ms
  std::vector<double> case_ms;          // runner-measured duration of the same cases
  std::vector<std::string> unmeasured;  // started cases whose log has no gtest time line
};

SuiteRun RunSuite(const fs::path& runner, const fs::path& out, int jobs) {
  SuiteRun run;
  run.jobs = jobs;
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
  run.passed = result.summary.passed;
  run.failed = result.summary.failed;
  run.skipped = result.summary.skipped;
  run.errors = result.summary.errors;
  run.timeouts = result.summary.timeouts;
  for (const auto& c : result.cases) {
    if (c.log.empty()) continue;  // skipped by the planner: never started, nothing to measure
    auto own = GtestCaseMs(out / c.log, c.id);
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

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"netns-conform-bench: in-place sandbox and runner costs on this machine",
               "netns-conform-bench"};
  std::string runner_path, json_path, work_dir;
  int iterations = 200, sandbox_runs = 100, suite_runs = 3, jobs = 0;
  bool no_suite = false, keep = false;
  app.add_option("--runner", runner_path, "the runner (default: netns-conform beside this binary)");
  app.add_option("--iterations", iterations, "unshare(CLONE_NEWNET) iterations")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app.add_option("--sandbox-runs", sandbox_runs, "runs of each spawn measurement")
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
    const fs::path runner = runner_path.empty() ? DefaultRunner() : fs::path(runner_path);
    if (!fs::exists(runner)) throw std::runtime_error("runner not found: " + runner.string());
    const fs::path suite = runner.parent_path() / "netns-conform-suite";
    const bool has_suite = fs::exists(suite);
    const long cpus = sysconf(_SC_NPROCESSORS_ONLN);

    nlohmann::json report;
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
    std::printf(
        "\nprocesses started with Boost.Process and reaped (wall; mean CPU of the tree):\n");
    struct SpawnCase {
      const char* key;
      std::string label;
      std::vector<std::string> argv;
      std::map<std::string, std::string> env;
    };
    const std::vector<std::string> suite_no_test = {suite.string(),
                                                    "--gtest_filter=NoSuchSuite.NoSuchCase"};
    std::vector<SpawnCase> spawns = {
        {"spawn_true", "/bin/true", {"/bin/true"}, {}},
        {"runner_startup", "netns-conform --version", {runner.string(), "--version"}, {}},
        {"sandbox_exec_true",
         "netns-conform sandbox-exec -- /bin/true",
         {runner.string(), "sandbox-exec", "--", "/bin/true"},
         {}},
    };
    if (has_suite) {
      // With the sandbox variable set the suite does not make its own sandbox; it runs no test.
      spawns.push_back({"suite_startup_no_test",
                        "suite alone, no sandbox, filter matches none",
                        suite_no_test,
                        {{conform::kInSandboxEnv, "1"}}});
      std::vector<std::string> argv = {runner.string(), "sandbox-exec", "--"};
      argv.insert(argv.end(), suite_no_test.begin(), suite_no_test.end());
      spawns.push_back(
          {"sandbox_exec_suite_no_test", "sandbox-exec -- suite, filter matches none", argv, {}});
    }
    for (const auto& spawn : spawns) {
      const SpawnStats cost = SpawnCost(spawn.argv, spawn.env, sandbox_runs);
      char cpu[64];
      std::snprintf(cpu, sizeof(cpu), "  cpu %.2f ms", cost.cpu_ms_mean);
      std::printf("  %-44s %s%s\n", spawn.label.c_str(), StatsLine(cost.wall).c_str(), cpu);
      report[spawn.key] = StatsJson(cost.wall);
      report[spawn.key]["command"] = spawn.argv;
      report[spawn.key]["cpu_ms_mean"] = Round3(cost.cpu_ms_mean);
    }
    const double sandbox_alone = report["sandbox_exec_true"]["median_ms"].get<double>() -
                                 report["spawn_true"]["median_ms"].get<double>();
    std::printf("  %-44s %7.3f ms (median difference)\n", "sandbox cost over spawning /bin/true",
                sandbox_alone);
    report["sandbox_cost_over_spawn_median_ms"] = Round3(sandbox_alone);

    // 3.
    std::printf("\nsandbox-exec stages, replayed in a forked child (no runner exec):\n");
    const auto stages = SandboxStages({"/bin/true"}, sandbox_runs);
    report["sandbox_stages"] = nlohmann::json::object();
    for (const char* name : kStageNames) {
      PrintStats(name, stages.at(name));
      report["sandbox_stages"][name] = StatsJson(stages.at(name));
    }
    PrintStats("total", stages.at("total"));
    report["sandbox_stages"]["total"] = StatsJson(stages.at("total"));
    if (has_suite) {
      std::printf(
          "\nthe suite (filter matches none) in a sandbox made without exec'ing the "
          "runner:\n");
      const Stats replay = SandboxStages(suite_no_test, sandbox_runs).at("total");
      PrintStats("fork, unshare, fork init, mounts, exec", replay);
      report["no_runner_exec_suite_no_test"] = StatsJson(replay);
      const Stats direct = DirectCloneCost(suite_no_test, sandbox_runs);
      PrintStats("clone3(NEWNS|NEWNET|NEWPID), mounts, exec", direct);
      report["direct_clone3_suite_no_test"] = StatsJson(direct);
    }

    // 4.
    if (!no_suite) {
      fs::path dir;
      bool made_dir = false;
      if (work_dir.empty()) {
        std::string templ = (fs::temp_directory_path() / "netns-conform-bench.XXXXXX").string();
        if (!mkdtemp(templ.data())) throw conform::SystemError("mkdtemp " + templ, errno);
        dir = templ;
        made_dir = true;
      } else {
        dir = fs::absolute(work_dir);
        fs::create_directories(dir);
      }
      report["suite"] = nlohmann::json::array();
      report["overhead_source"] =
          "per started case: results.json duration_s minus the gtest time on the case log's "
          "'[ OK|FAILED|SKIPPED ] Suite.Case (N ms)' line (whole ms, so +-1 ms)";
      std::printf("\nfull suite through the runner (overhead = runner duration_s - gtest time):\n");
      std::optional<double> median_overhead_j1;
      for (int j : {1, jobs}) {
        std::vector<double> walls, overheads, case_ms;
        std::vector<std::string> unmeasured;
        nlohmann::json runs = nlohmann::json::array();
        for (int r = 0; r < suite_runs; ++r) {
          const fs::path out =
              dir / ("j" + (j ? std::to_string(j) : "default") + "-run" + std::to_string(r + 1));
          const SuiteRun run = RunSuite(runner, out, j);
          walls.push_back(run.wall_s * 1000);
          overheads.insert(overheads.end(), run.overhead_ms.begin(), run.overhead_ms.end());
          case_ms.insert(case_ms.end(), run.case_ms.begin(), run.case_ms.end());
          unmeasured.insert(unmeasured.end(), run.unmeasured.begin(), run.unmeasured.end());
          runs.push_back({{"wall_s", Round3(run.wall_s)},
                          {"runner_duration_s", Round3(run.runner_duration_s)},
                          {"exit_code", run.exit_code},
                          {"passed", run.passed},
                          {"failed", run.failed},
                          {"skipped", run.skipped},
                          {"errors", run.errors},
                          {"timeouts", run.timeouts},
                          {"cases_measured", run.overhead_ms.size()},
                          {"overhead_ms", StatsJson(Summarize(run.overhead_ms))}});
          std::printf(
              "  -j %-7s run %d: wall %.3f s (runner %.3f s), %d passed, %d failed, "
              "%d skipped, %d errors, %d timeouts; %zu cases measured\n",
              j ? std::to_string(j).c_str() : "default", r + 1, run.wall_s, run.runner_duration_s,
              run.passed, run.failed, run.skipped, run.errors, run.timeouts,
              run.overhead_ms.size());
        }
        const std::string label =
            "-j " + (j ? std::to_string(j) : "default (" + std::to_string(cpus) + ")");
        const Stats overhead = Summarize(overheads);
        PrintStats(label + ": per-case overhead", overhead);
        PrintStats(label + ": per-case runner duration", Summarize(case_ms));
        PrintStats(label + ": whole-suite wall time", Summarize(walls));
        for (const auto& id : unmeasured)
          std::printf("    no gtest time in the log of %s\n", id.c_str());
        if (j == 1) median_overhead_j1 = overhead.median;
        report["suite"].push_back({{"jobs", j ? nlohmann::json(j) : nlohmann::json("default")},
                                   {"effective_jobs", j ? j : cpus},
                                   {"per_case_overhead_ms", StatsJson(overhead)},
                                   {"per_case_duration_ms", StatsJson(Summarize(case_ms))},
                                   {"suite_wall_ms", StatsJson(Summarize(walls))},
                                   {"unmeasured_cases", unmeasured},
                                   {"runs", runs}});
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
