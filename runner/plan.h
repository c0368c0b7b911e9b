// Which cases a run will start: the suite's own listing, filtered, each with its requirements
// judged on this machine before anything is started.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace conform {

struct PlannedCase {
  std::string id;
  std::string clause;
  std::optional<std::string> skip_reason;  // set when a requirement is unmet here
  // `netns-conform tools` only: the tool a case runs against (log files are named after it too,
  // since one scenario id runs once per tool), its version, and the arguments the case binary
  // gets beyond the usual ones.
  std::string tool;
  std::string tool_version;
  std::vector<std::string> extra_args;
};

class UsageError : public std::runtime_error {
  using std::runtime_error::runtime_error;
};
class InfrastructureError : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Asks the suite binary for its cases (`--netns_conform_list`). Throws InfrastructureError when
// the binary is missing or answers with something other than the listing.
std::vector<PlannedCase> ListSuiteCases(const std::filesystem::path& suite_binary);

// Keeps the cases whose id matches any of the globs (fnmatch; all cases when globs is empty).
// A glob that matches nothing is a UsageError: a typo must not turn into an empty green run.
std::vector<PlannedCase> FilterCases(const std::vector<PlannedCase>& cases,
                                     const std::vector<std::string>& globs);

// The suite binary installed beside the runner.
std::filesystem::path DefaultSuiteBinary();

}  // namespace conform
