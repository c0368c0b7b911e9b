// Section 4 of netns-conform-bench (bench/suite_runs.h): the runner on the full suite, and each
// started case's overhead read from the run's results.json and case logs.
#include "bench/suite_runs.h"

#include <stdlib.h>

#include <boost/process.hpp>
#include <cerrno>
#include <fstream>
#include <optional>
#include <regex>
#include <stdexcept>

#include "bench/bench_stats.h"
#include "fixtures/error.h"
#include "reports/json_report.h"

namespace conform::bench {

namespace bp = boost::process;
namespace fs = std::filesystem;

namespace {

// The case's own time as gtest measured it: "[       OK ] Suite.Case (N ms)" (or FAILED /
// SKIPPED). gtest truncates to whole milliseconds, so an overhead taken from it is good to
// +-1 ms.
std::optional<double> GtestCaseMs(const fs::path& log, const std::string& id) {
  static const std::regex line_re(R"(^\[ *(OK|FAILED|SKIPPED) *\] (\S+) \((\d+) ms\)\s*$)");
  std::ifstream in(log);
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_match(line, m, line_re) && m[2] == id) return std::stod(m[3]);
  }
  return std::nullopt;
}

}  // namespace

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

}  // namespace conform::bench
