// Starts each planned case in a fresh sandbox of its own (runner/case_launcher.h), up to `jobs`
// at a time, enforces the per-case timeout on the whole sandbox, and turns every ending (result
// line, crash, timeout, interruption) into one CaseResult.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "reports/result_model.h"
#include "runner/plan.h"

namespace conform {

// The static sandbox launcher (runner/sandbox_main.cc), looked for beside the runner.
inline constexpr const char* kSandboxBinaryName = "netns-conform-sandbox";

// How each case is started (runner/case_launcher.h).
enum class LauncherKind { kForkServer, kExec };

struct ExecutorOptions {
  LauncherKind launcher = LauncherKind::kForkServer;
  // The exec launcher starts each case as `netns-conform-sandbox -- suite ...` from this binary's
  // folder, or as `runner sandbox-exec -- suite ...` where that launcher is missing.
  std::filesystem::path runner_binary;
  std::filesystem::path suite_binary;
  std::filesystem::path out_dir;  // logs/ and .work/ are made below it
  int jobs = 1;
  std::chrono::milliseconds case_timeout{60000};
  std::map<std::string, std::string> extra_env;  // handed to every case
  // A program the launcher's command line is handed to (gVisor: `runsc --network=none ... do`);
  // empty: the launcher is started directly.
  std::vector<std::string> wrapper;
  // The result file reaches the case as its stdin, opened read-write, instead of as an inherited
  // fd: `runsc do` passes the sandboxed command its stdio and nothing else.
  bool result_via_stdin = false;
};

// Called once per finished case, in completion order.
using ResultSink = std::function<void(const CaseResult&)>;

struct ExecutionOutcome {
  std::vector<CaseResult> results;  // in plan order
  bool interrupted = false;         // SIGINT/SIGTERM/SIGHUP arrived
  std::string interrupt_signal;
  std::string launcher;  // which one started the cases: "fork-server" or "exec"
};

// Runs the plan. SIGINT, SIGTERM and SIGHUP stop it early: running cases are killed and they and
// the cases never started become MISS.
ExecutionOutcome ExecuteCases(const std::vector<PlannedCase>& plan, const ExecutorOptions& options,
                              const ResultSink& on_result);

}  // namespace conform
