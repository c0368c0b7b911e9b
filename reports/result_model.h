// The in-memory result of one run: the single source every report format is derived from.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace conform {

// Bumped whenever a field changes meaning or disappears; readers refuse other versions.
// Version 2 added the statuses XFAIL and XPASS (expected results, `--expect`), a case's
// "expectation", summary.xfailed/xpassed, environment.features and the clause verdict XFAIL.
inline constexpr int kResultsSchemaVersion = 2;
// The oldest version readers still accept: a version 1 file is a version 2 file without any of
// the above.
inline constexpr int kOldestResultsSchemaVersion = 1;

// kXfail: the case failed as an expectation (`--expect FILE`) says it does on this kernel;
// kXpass: an expectation said it fails here, but it passed (the expectation is stale).
enum class Status { kPass, kFail, kSkip, kError, kTimeout, kMiss, kXfail, kXpass };

// "PASS", "FAIL", "SKIP", "ERROR", "TIMEOUT", "MISS", "XFAIL", "XPASS".
const char* StatusName(Status status);
// Inverse of StatusName; nullopt for anything else.
std::optional<Status> ParseStatus(const std::string& name);

// The expectation that turned a case into XFAIL or XPASS (reports/expectations.h): the status it
// expects, why the kernel is believed wrong, and where that is documented (CVE, commit, bug).
struct CaseExpectation {
  Status status = Status::kFail;  // kFail, kError or kTimeout
  std::string reason;
  std::string link;
  bool operator==(const CaseExpectation&) const = default;
};

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
  // Set exactly for XFAIL and XPASS: the expectation that applied. An XFAIL keeps the case's own
  // reason; an XPASS's reason says that the expectation no longer holds.
  std::optional<CaseExpectation> expectation;
};

// The verdict on one clause over the cases of a run that name it: XFAIL when every one of them is
// PASS, SKIP, XFAIL or XPASS and at least one is XFAIL (the clause is known broken on this
// kernel); otherwise, with XPASS counted as PASS: PASS only when every one of them passed, SKIP
// when every one was skipped, FAIL otherwise, which includes a case that failed, errored, timed
// out or was missed, and a mix of PASS and SKIP (the clause was not shown to hold in full).
struct ClauseVerdict {
  std::string id;                  // clause id
  Status status = Status::kSkip;   // kPass, kSkip, kFail or kXfail only
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
  // How the runner started the cases: "fork-server" or "exec" (`run --launcher`); in a VM run,
  // what the guest's runner used. Empty in older files.
  std::string launcher;
  // What the suite binary probed on the kernel under test (fixtures/features.h: "net_ns",
  // "nsfs_file_handles", ...), for expectations that hold only with or without a feature.
  // Empty: not recorded (older files, `tools` runs); then left out of results.json.
  std::map<std::string, bool> features;
};

struct Summary {
  int total = 0, passed = 0, failed = 0, skipped = 0, errors = 0, timeouts = 0, missed = 0;
  int xfailed = 0, xpassed = 0;
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
