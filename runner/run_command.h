// `netns-conform run`: plan, execute, journal, report.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "reports/expectations.h"
#include "reports/result_model.h"
#include "runner/executor.h"
#include "runner/plan.h"

namespace conform {

struct RunOptions {
  std::vector<std::string> filters;
  int jobs = 0;  // 0: one per online CPU
  double timeout_s = 60;
  std::filesystem::path out_dir = "netns-conform-results";
  std::optional<std::string> spare_nic;
  std::filesystem::path suite_binary;  // empty: the one beside the runner
  // `--target NAME` as given ("host" when none was), recorded in environment.target; RunCommand
  // itself serves "host" and "gvisor" (main.cc sends the VM targets to RunVmCommand).
  std::string target = "host";
  Shard shard;  // `--shard K/N`
  // `--expect FILE` (repeatable): known kernel bugs (reports/expectations.h), applied on the
  // host to the final results of every target.
  std::vector<std::string> expect_files;
  // `--launcher`: the fork server (default) or one exec'd launcher per case
  // (runner/case_launcher.h); passed on to a VM guest's runner.
  LauncherKind launcher = LauncherKind::kForkServer;
};

// In place on the running kernel (target "host"), or every case in its own gVisor sandbox (target
// "gvisor", see runner/gvisor.h).
// Returns the process exit status: 0 nothing failed, 1 a case failed/errored/timed out/missed.
// Throws UsageError / InfrastructureError (exit status 2) before anything is written.
int RunCommand(const RunOptions& options);

// Shared by the in-place and VM runs.
std::string Rfc3339Now();
std::string Hostname();
std::filesystem::path SuiteBinaryOrDefault(const std::filesystem::path& given);
// The planned cases of a run: the suite's listing, filtered, then sharded.
std::vector<PlannedCase> PlanCases(const std::vector<PlannedCase>& listing,
                                   const RunOptions& options);
// options.expect_files read and checked against the suite's whole listing and the features
// its binary probes (ProbeSuiteFeatures, which `features` holds). Throws ReportError.
Expectations LoadSuiteExpectations(const RunOptions& options,
                                   const std::vector<PlannedCase>& listing,
                                   const std::map<std::string, bool>& features);
// Records the run's target and shard in its environment.
void DescribeTarget(Environment& environment, const RunOptions& options);

// Makes the output folder and proves it writable before any case starts; clears the reports of
// an earlier run so that a run killed midway never leaves a stale results.json looking current.
// Throws UsageError.
void PrepareOutDir(const std::filesystem::path& dir);

// The in-place environment (running kernel, its config source, sandbox "inplace").
Environment InPlaceEnvironment();

// Runs the plan with ExecuteCases, applying `expectations` to each result as it arrives (so the
// journal and the progress show XFAIL/XPASS too), journalling it and showing progress on stderr,
// and writes results.json and junit.xml atomically into options.out_dir (made by PrepareOutDir);
// then names each stale expectation (XPASS). `interrupted` says why the run stopped early (""
// when it did not). Shared by `run` and `tools`.
RunResult ExecuteWithReports(const std::vector<PlannedCase>& plan, const ExecutorOptions& options,
                             Environment environment, const Expectations& expectations,
                             std::string* interrupted);

// 0 when no case failed, errored, timed out or was missed, else 1 (XFAIL and XPASS do not count).
int ExitStatusOf(const Summary& summary);

// `netns-conform list`
int ListCommand(const std::vector<std::string>& filters, const std::filesystem::path& suite_binary,
                bool json);

}  // namespace conform
