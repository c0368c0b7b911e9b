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
// Sections 1-3 are measured in bench/launch_costs.cc, section 4 in bench/suite_runs.cc, and every
// series is summarized by bench/bench_stats.cc; this file holds the options, picks what to launch
// and prints the report (and writes it as JSON), so the report's shape is read in one place.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench/bench_stats.h"
#include "bench/launch_costs.h"
#include "bench/suite_runs.h"
#include "fixtures/probe.h"
#include "fixtures/sandbox_mounts.h"
#include "reports/json_report.h"

namespace fs = std::filesystem;
using conform::bench::BoostLaunch;
using conform::bench::DirectCloneLaunch;
using conform::bench::Join;
using conform::bench::Json;
using conform::bench::Launch;
using conform::bench::MakeWorkDir;
using conform::bench::PosixSpawnLaunch;
using conform::bench::PrintStats;
using conform::bench::Round3;
using conform::bench::RunRoundRobin;
using conform::bench::RunSuite;
using conform::bench::SandboxStages;
using conform::bench::Stats;
using conform::bench::StatsJson;
using conform::bench::SuiteRun;
using conform::bench::Summarize;
using conform::bench::UnshareCost;

namespace {

// Taken at the start and the end of the report: every launch number moves with the machine's
// load, so the report says what it was.
std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen;
}

// The build puts the runner, the suite binary and this benchmark side by side.
fs::path DefaultRunner() {
  return fs::read_symlink("/proc/self/exe").parent_path() / "netns-conform";
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
