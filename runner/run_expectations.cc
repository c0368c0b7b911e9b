#include "runner/run_expectations.h"

#include <cstdio>

#include "reports/apply_expectations.h"

namespace conform {

Expectations LoadRunExpectations(const std::vector<std::string>& files,
                                 const std::vector<PlannedCase>& cases,
                                 const std::map<std::string, bool>& features,
                                 const std::string& scope) {
  if (files.empty()) return {};
  Expectations expectations = ReadExpectationsFiles(files);
  std::vector<CaseKey> keys;
  keys.reserve(cases.size());
  for (const PlannedCase& c : cases) keys.emplace_back(c.id, c.tool);
  CheckExpectationsMatch(expectations, keys, features, scope);
  return expectations;
}

void PrintStaleExpectations(const RunResult& run) {
  for (const std::string& line : StaleExpectationLines(run))
    std::fprintf(stderr, "netns-conform: %s\n", line.c_str());
}

}  // namespace conform
