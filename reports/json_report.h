// results.json: the serialized result model (schema: reports/results.schema.json), and the
// atomic file writing every report goes through.
//
// Layout (schema_version 2):
//   {"schema_version": 2,
//    "environment": {"kernel_release", "kernel_config_source", "sandbox", "runner_version",
//                    "hostname", "start_time", "features"?: {name: bool}, ...},
//    "summary": {"total", "passed", "failed", "skipped", "errors", "timeouts", "missed",
//                "xfailed", "xpassed", "duration_s"},
//    "cases": [{"id", "clause", "status", "reason", "duration_s", "log",
//               "expectation"?: {"status", "reason", "link"}}],
//    "clauses": [{"id", "status", "cases"}]}
// "reason" is written for every status but PASS, "log" only when non-empty, "expectation" for
// XFAIL and XPASS only. "clauses" holds the per-clause verdicts (ClauseVerdicts); readers accept
// files without it (written before it existed). Readers accept schema_version 1 too: the same
// without XFAIL, XPASS, expectations, features and summary.xfailed/xpassed.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "reports/result_model.h"

namespace conform {

// A report that cannot be read, parsed or written. what() is one line naming the problem (and
// the file, for the file functions).
class ReportError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The results.json document for `run`. The summary counts and the clause verdicts are recomputed
// from run.cases (summary.duration_s is kept, run.clauses is not read), schema_version is always
// kResultsSchemaVersion, strings are made valid UTF-8 (see ToValidUtf8) and negative or non-finite
// durations are written as 0, so the result always dumps. A non-PASS case with an empty reason gets
// "no reason recorded for <STATUS>". (Schema checks on the values themselves, such as the id
// pattern or start_time being RFC 3339, stay the caller's business.)
nlohmann::json ToJson(const RunResult& run);
// The pieces of ToJson, as the journal writes them one line at a time.
nlohmann::json EnvironmentToJson(const Environment& environment);
nlohmann::json CaseToJson(const CaseResult& result);
// Inverse of CaseToJson (a journal line); throws ReportError like RunResultFromJson.
CaseResult CaseResultFromJson(const nlohmann::json& json);

// ToJson(run) as text: keys in layout order (not alphabetical), 2-space indent, final newline.
std::string ToJsonText(const RunResult& run);

// Inverse of ToJson. Throws ReportError on a schema_version outside
// kOldestResultsSchemaVersion..kResultsSchemaVersion, a status its version lacks, an XFAIL or
// XPASS without "expectation" (or another status with one), a missing or ill-typed field, a
// negative count or duration, an unknown status, a non-PASS case without a reason, summary counts
// that disagree with the cases, or a "clauses" array that differs from the verdicts the cases give
// (ignoring order). run.clauses is always ClauseVerdicts(run.cases), also for a file without
// "clauses". Unknown keys are ignored (later writers may add fields without bumping the version).
RunResult RunResultFromJson(const nlohmann::json& json);

// Replaces `path` with `content` so that readers see the old file or the whole new one, never a
// part: writes a temporary file in the same folder (created 0666 & ~umask, close-on-exec), fsyncs
// it, renames it over `path`, then fsyncs the folder (best effort). On failure the temporary
// file is removed, `path` is left as it was, and ReportError names the path, the step and errno.
void WriteFileAtomically(const std::filesystem::path& path, const std::string& content);

// WriteFileAtomically(path, ToJsonText(run)).
void WriteResultsFile(const std::filesystem::path& path, const RunResult& run);

// Reads and parses a results.json. Throws ReportError "<path>: <reason>" for an unreadable or
// empty file, truncated or otherwise invalid JSON, or anything RunResultFromJson rejects.
RunResult ReadResultsFile(const std::filesystem::path& path);

// Reads and parses any JSON file, with ReadResultsFile's one-line errors ("<path>: cannot open:
// ...", "<path>: truncated JSON: ...").
nlohmann::json ReadJsonFile(const std::filesystem::path& path);

}  // namespace conform
