// The in-memory result of one run: the single source every report format is derived from.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace conform {

// Bumped whenever a field changes meaning or disappears; readers refuse other versions.
inline constexpr int kResultsSchemaVersion = 1;

enum class Status { kPass, kFail, kSkip, kError, kTimeout, kMiss };

// "PASS", "FAIL", "SKIP", "ERROR", "TIMEOUT", "MISS".
const char* StatusName(Status status);
// Inverse of StatusName; nullopt for anything else.
std::optional<Status> ParseStatus(const std::string& name);

struct CaseResult {
  std::string id;      // "Suite.Case"
  std::string clause;  // clause id, e.g. "netns7.veth.destroyed-with-ns"
  Status status = Status::kMiss;
  std::string reason;     // empty only for PASS
  double duration_s = 0;  // as the runner saw it: process start to reap
  std::string log;        // path of the case's captured output, relative to the output folder
  // `netns-conform tools` only (empty elsewhere, then left out of the reports): the tool the
  // case ran against ("ip", "util-linux", a profile's name) and its version.
  std::string tool;
  std::string tool_version;
  // The case's own time inside the suite binary (test body, set-up and tear-down), as the suite
  // measured it; duration_s - case_s is what the runner and its sandbox cost. 0: not reported.
  double case_s = 0;
};

// The verdict on one clause over the cases of a run that name it: PASS only when every one of
// them passed, SKIP when every one was skipped, FAIL otherwise, which includes a case that
// failed, errored, timed out or was missed, and a mix of PASS and SKIP (the clause was not shown
// to hold in full).
struct ClauseVerdict {
  std::string id;                  // clause id
  Status status = Status::kSkip;   // kPass, kSkip or kFail only
  std::vector<std::string> cases;  // ids of the cases naming it, in run order; never empty
};

struct Environment {
  std::string kernel_release;
  std::string kernel_config_source;  // "/proc/config.gz", "/boot/config-…" or "unknown"
  std::string sandbox;               // "inplace", "vm", ...
  std::string runner_version;
  std::string hostname;
  std::string start_time;  // RFC 3339 UTC
  // The VM sandbox only; empty (0) elsewhere and then left out of results.json.
  std::string vm_kernel;    // "debian-6.1-cloud", or the path of a user's kernel
  std::string accelerator;  // "kvm" or "tcg"
  std::string machine;      // "microvm", "q35"
  double boot_s = 0;        // qemu start to the guest's init running
  // The reuse sandbox only (sandbox "vm-reuse": `run --attach NAME`): the guest's name and this
  // run's number on it (1 = the first run after its boot; boot_s is that boot's).
  std::string vm_guest;
  int vm_guest_run = 0;
  std::vector<std::string> kernel_problems;  // console/dmesg lines: panic, BUG, WARNING, Oops
  // The target the run was asked for (`run --target NAME`: "host", "gvisor", a VM kernel's name);
  // empty in files written before targets existed.
  std::string target;
  // Which cases: "suite" (`run`) or "tools" (`netns-conform tools`); empty in older files.
  std::string suite;
  // `run --shard K/N`: this run holds shard K (1-based) of N; 0/0 for an unsharded run.
  int shard_index = 0;
  int shard_count = 0;
  // The gVisor target only: `runsc --version`'s first line, e.g. "runsc version 0.0~20221219.0".
  std::string runsc_version;
};

struct Summary {
  int total = 0, passed = 0, failed = 0, skipped = 0, errors = 0, timeouts = 0, missed = 0;
  double duration_s = 0;
};

struct RunResult {
  int schema_version = kResultsSchemaVersion;
  Environment environment;
  Summary summary;
  std::vector<CaseResult> cases;
  // One per clause named by a case, ordered by clause id (ClauseVerdicts(cases)).
  std::vector<ClauseVerdict> clauses;
};

// Recomputes summary counts from cases (duration_s is left as it is).
void RecountSummary(RunResult& run);
// run.summary with its counts recomputed from run.cases (duration_s copied); what the report
// writers emit, so every format agrees with the cases whatever run.summary holds.
Summary CountSummary(const RunResult& run);

// The verdict on every clause the cases name (cases with an empty clause name none), ordered by
// clause id; see ClauseVerdict for the rule.
std::vector<ClauseVerdict> ClauseVerdicts(const std::vector<CaseResult>& cases);

// `text` with every byte that is not part of a well-formed UTF-8 sequence (stray continuation
// bytes, truncated or overlong sequences, surrogates, code points above U+10FFFF) replaced by
// U+FFFD. Report writers pass every string through this: case output is arbitrary bytes, and
// neither JSON nor XML can carry invalid UTF-8.
std::string ToValidUtf8(std::string_view text);

}  // namespace conform
