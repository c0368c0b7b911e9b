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
  // The case declares `.initial_pid_ns`: its sandbox keeps the runner's PID namespace.
  bool initial_pid_ns = false;
  // The case declares `.alone`: it starts first, with no other case beside it.
  bool alone = false;
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

// `run --shard K/N`: shard K (1-based) of N; count 0 means unsharded.
struct Shard {
  int index = 0;
  int count = 0;
  bool active() const { return count > 0; }
  std::string Text() const { return std::to_string(index) + "/" + std::to_string(count); }
};

// Parses "K/N" with 1 <= K <= N <= 10000. Throws UsageError naming the text.
Shard ParseShard(const std::string& text);

// The cases of one shard: the i-th case of `cases` (0-based, in the suite's listing order after
// the filters) belongs to shard (i mod N) + 1. Deterministic for the same suite binary and
// filters, so the guest of a VM run and the host agree, and the N shards together hold every case
// exactly once. Round-robin rather than blocks: neighbouring cases (one suite) often cost alike,
// so every shard gets a similar share of the slow ones. An inactive shard keeps every case.
std::vector<PlannedCase> ShardCases(const std::vector<PlannedCase>& cases, const Shard& shard);

// The suite binary installed beside the runner.
std::filesystem::path DefaultSuiteBinary();

}  // namespace conform
