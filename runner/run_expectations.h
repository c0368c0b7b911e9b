// `--expect FILE` for the commands that run cases (run, tools, matrix): the files read and checked
// against what the run could hold before anything runs, and the stale ones named at the end.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "reports/expectations.h"
#include "reports/result_model.h"
#include "runner/plan.h"

namespace conform {

// Reads `files` (none: an empty set) and refuses an entry whose case glob matches none of
// `cases` (the suite's whole listing, before --filter and --shard: a filtered run must still
// accept the project's file), or whose feature condition names a feature `features` lacks.
// Throws ReportError (exit status 2, one line naming the file).
Expectations LoadRunExpectations(const std::vector<std::string>& files,
                                 const std::vector<PlannedCase>& cases,
                                 const std::map<std::string, bool>& features,
                                 const std::string& scope);

// One stderr line per XPASS case of `run` (StaleExpectationLines).
void PrintStaleExpectations(const RunResult& run);

}  // namespace conform
