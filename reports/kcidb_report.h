// KCIDB I/O schema v5.3 (KernelCI's common report database; reports/kcidb-v5.3.schema.json): the
// result model as one submission, for `kcidb-submit` or KernelCI's API.
//
//   {"version": {"major": 5, "minor": 3},
//    "checkouts": [{"id": "<origin>:run-<hash>", "origin", "comment": "Linux <release>",
//                   "start_time"?, "valid": true, "misc": {"environment": ...}}],
//    "builds":    [{"id": "<origin>:run-<hash>-kernel", "checkout_id", "origin", "comment",
//                   "start_time"?, "architecture"?, "config_name"?, "status": "PASS",
//                   "misc": {"environment": ...}}],
//    "tests":     [{"id": "<origin>:run-<hash>:<case id>[:<tool>]", "build_id", "origin",
//                   "path": "netns_conform.<Suite>.<Case>[.<tool>]", "status", "duration",
//                   "start_time"?, "comment"?, "log_excerpt"?, "environment": {"comment",
//                   "misc"}, "misc": {"clause", "status", "reason"?, "log"?, "tool"?,
//                   "tool_version"?, "case_s"?, "runner_version", "expectation"?,
//                   "waived"?}}],
//    "issues":    [{"id": "<origin>:expectation-<hash>", "version": 1, "origin",
//                   "report_url": <link>, "report_subject", "comment", "culprit": {"code": true}}],
//    "incidents": [{"id", "origin", "issue_id", "issue_version": 1, "test_id", "present"}]}
//                   (issues and incidents only when a case is XFAIL or XPASS)
//
// netns-conform tests a kernel it did not build: the checkout and the build stand for the kernel
// that ran, one of each per run. <hash> is a stable hash (FNV-1a 64) of the kernel release,
// hostname, start time, target, sandbox and shard, so converting the same results.json twice
// gives the same ids (KCIDB merges objects with equal ids) and two runs never share one.
//
// Status: PASS, FAIL, SKIP, ERROR and MISS map to themselves; TIMEOUT becomes ERROR (the case did
// not complete, the kernel's verdict is unknown); misc.status keeps the netns-conform status.
// XFAIL is FAIL (the kernel is wrong, known or not) with misc.waived true, misc.expectation, and
// an incident (present) of the expectation's issue: KCIDB 4's test "waived" is gone in 5.x,
// whose schema refuses it, and issues with incidents are how 5.x marks known bugs. XPASS is PASS
// with misc.expectation and an incident that is not present (the known bug did not show).
// Path segments keep [a-zA-Z0-9_-] and turn anything else into '_' ("Eperm/0" -> "Eperm_0").
// The case's log is a path relative to the results folder, not the URI that log_url must be:
// it goes to misc.log. The reason (up to 16384 characters) is the log_excerpt, its first line the
// comment. architecture is derived from Debian's release suffix (-amd64 -> x86_64, -arm64 ->
// arm64) and left out otherwise, start_time only when it is RFC 3339. No value is ever null and
// no string holds a NUL (KCIDB forbids both).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "reports/result_model.h"

namespace conform {

struct KcidbOptions {
  // The submitting CI system's name, the prefix of every id; KCIDB wants ^[a-z0-9_]+$.
  std::string origin = "netns_conform";
};

// Throws ReportError (one line) when options.origin does not match ^[a-z0-9_]+$.
nlohmann::json ToKcidb(const RunResult& run, const KcidbOptions& options);

}  // namespace conform
