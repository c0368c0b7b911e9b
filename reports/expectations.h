// Expected results as data: an expectations file (`--expect FILE`, JSON Schema
// reports/expectations.schema.json) marks known kernel bugs, so that a run on such a kernel is
// green while the bug stays visible as XFAIL (reports/apply_expectations.h applies them).
//
//   {"expectations_version": 1,
//    "about": "free text"?,
//    "expectations": [
//      {"case": "VethPair.PeerInNetnsWithoutCapNetAdminIsEperm",   a case id or an fnmatch glob
//       "tool": "ip*"?,                          `tools` runs only: the tool (an fnmatch glob)
//       "kernels": {"release": ["6.1.0-*"]?, "features": {"nsfs_file_handles": true}?}?,
//       "status": "FAIL",                        FAIL, ERROR or TIMEOUT
//       "reason_contains": "VULNERABLE to"?,     the actual reason must contain this text
//       "reason": "why the kernel is wrong",
//       "link": "https://..."}]}                 CVE, commit or bug URL
//
// A file is refused as a whole (ReportError, one line naming the file and the problem) for
// unknown fields anywhere, JSON that does not parse, a missing or ill-typed field, a status that
// is not FAIL, ERROR or TIMEOUT, an empty glob or reason, a link that is not an http(s) URL.
#pragma once

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "reports/result_model.h"

namespace conform {

inline constexpr int kExpectationsVersion = 1;

// Which kernels an expectation is about; both parts given: both must hold.
struct KernelCondition {
  std::vector<std::string> releases;     // fnmatch globs on uname -r; empty: any release
  std::map<std::string, bool> features;  // probed feature -> the value it must have
};

struct Expectation {
  std::string case_glob;
  std::string tool_glob;  // empty: suite cases only (no tool); else `tools` cases of that tool
  KernelCondition kernels;
  Status status = Status::kFail;  // kFail, kError or kTimeout
  std::string reason_contains;    // empty: any reason
  std::string reason;
  std::string link;
  std::string where;  // "FILE: expectations[N]", for messages
};

struct Expectations {
  std::vector<Expectation> entries;  // in file order, files in the order given
  bool empty() const { return entries.empty(); }
};

// The document of one file; `name` (the file's path) prefixes every error. Throws ReportError.
Expectations ParseExpectations(const nlohmann::json& doc, const std::string& name);

// Reads and parses every file, in order, into one set. Throws ReportError "<path>: <problem>".
Expectations ReadExpectationsFiles(const std::vector<std::string>& paths);

// A case as a run holds it: its id and, in `tools` runs, its tool.
using CaseKey = std::pair<std::string, std::string>;  // (id, tool)

// Refuses (ReportError "<where>: ... matches no case of <scope>") an entry whose case glob matches
// none of `cases` that it could apply to: an entry without "tool" is checked when `cases` hold
// suite cases (no tool), one with "tool" when they hold tool cases; so one file serves `run` and
// `tools` alike. `features`: the names the suite probes; when non-empty, a feature condition naming
// another is refused too (a typo would silently never hold). `scope` names the cases in the
// message: "the suite's listing", "the results".
void CheckExpectationsMatch(const Expectations& expectations, const std::vector<CaseKey>& cases,
                            const std::map<std::string, bool>& features, const std::string& scope);

}  // namespace conform
