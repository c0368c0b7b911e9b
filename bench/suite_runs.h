// Section 4 of netns-conform-bench (bench/inplace_bench.cc): the real runner on the full suite,
// `netns-conform run --out DIR [-j N]`, timed as a whole and, per started case, the runner's
// duration_s minus the case's own time: what the runner and the sandbox add to every case.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "reports/result_model.h"

namespace conform::bench {

struct SuiteRun {
  int exit_code = 0;
  double wall_s = 0;
  double runner_duration_s = 0;  // summary.duration_s as the runner measured it
  conform::Summary summary;
  std::vector<double> overhead_ms;      // per measured case: duration_s - case_s, in ms
  std::vector<double> case_ms;          // runner-measured duration of the same cases
  std::vector<std::string> unmeasured;  // started cases whose log has no gtest time line
};

// One whole-suite run into `out` (its console output beside it, as OUT.console.txt); jobs 0:
// the runner's default -j. Cases that fail still count (exit status 1); any other exit status
// than 0 or 1 means the runner could not run the suite, and throws.
SuiteRun RunSuite(const std::filesystem::path& runner, const std::filesystem::path& out, int jobs);

// The folder for the runs' output: `given` (created if missing; made = false), else a fresh
// temporary folder (made = true: the caller removes it unless asked to keep it).
std::filesystem::path MakeWorkDir(const std::string& given, bool& made);

}  // namespace conform::bench
