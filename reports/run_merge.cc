#include "reports/run_merge.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>
#include <utility>

#include "reports/json_report.h"

namespace conform {

namespace {

namespace fs = std::filesystem;

[[noreturn]] void Reject(const std::string& reason) { throw ReportError(reason); }

std::string PathText(const MergeInput& input) { return input.results_path.string(); }

// A `tools` run holds one case per (scenario, tool): the tool is part of a case's identity.
std::string CaseName(const CaseResult& result) {
  return result.tool.empty() ? result.id : result.id + " (tool " + result.tool + ")";
}

std::string ShardText(int index, int count) {
  return std::to_string(index) + "/" + std::to_string(count);
}

// The fields that say two results come from the same run; the first input is the reference.
void CheckSameRun(const std::vector<MergeInput>& inputs) {
  const MergeInput& first = inputs.front();
  const Environment& reference = first.run.environment;
  struct Field {
    const char* name;
    std::string (*get)(const Environment&);
  };
  static const Field kFields[] = {
      {"suite", [](const Environment& env) { return env.suite; }},
      // Files written before targets existed only say which sandbox ran them.
      {"target",
       [](const Environment& env) { return env.target.empty() ? env.sandbox : env.target; }},
      {"kernel_release", [](const Environment& env) { return env.kernel_release; }},
      {"runner_version", [](const Environment& env) { return env.runner_version; }},
  };
  for (const MergeInput& input : inputs) {
    for (const Field& field : kFields) {
      const std::string want = field.get(reference);
      const std::string have = field.get(input.run.environment);
      if (want == have) continue;
      std::string reason = "not the same run: environment.";
      reason += field.name;
      reason += " is '" + want + "' in " + PathText(first);
      reason += " but '" + have + "' in " + PathText(input);
      Reject(reason);
    }
  }
}

// Either no input is sharded, or all are distinct shards of one N. Returns the shards of N
// that no input holds.
std::vector<std::string> CheckShards(const std::vector<MergeInput>& inputs) {
  const MergeInput& first = inputs.front();
  const int count = first.run.environment.shard_count;
  std::map<int, const MergeInput*> holder;  // shard index -> the input holding it
  for (const MergeInput& input : inputs) {
    const Environment& env = input.run.environment;
    if (env.shard_count != count) {
      auto describe = [](const MergeInput& in) {
        const Environment& e = in.run.environment;
        return (e.shard_count == 0 ? std::string("unsharded")
                                   : "shard " + ShardText(e.shard_index, e.shard_count)) +
               " in " + PathText(in);
      };
      Reject("shards of different runs: " + describe(first) + " but " + describe(input));
    }
    if (count == 0) continue;
    const auto [it, inserted] = holder.emplace(env.shard_index, &input);
    if (!inserted)
      Reject("overlapping shards: shard " + ShardText(env.shard_index, count) + " is in both " +
             PathText(*it->second) + " and " + PathText(input));
  }
  std::vector<std::string> missing;
  for (int index = 1; index <= count; ++index) {
    if (!holder.contains(index)) missing.push_back(ShardText(index, count));
  }
  return missing;
}

// `log` is relative to the folder of the results.json it came from; the merged file lives in
// out_dir. Lexical, so that it works for folders that do not exist yet and never follows links
// the reader of the merged folder would not follow either.
std::string RebaseLog(const std::string& log, const fs::path& results_path,
                      const fs::path& out_dir) {
  if (log.empty() || fs::path(log).is_absolute()) return log;
  const fs::path from = fs::absolute(results_path).parent_path() / log;
  const fs::path rebased =
      from.lexically_normal().lexically_relative(fs::absolute(out_dir).lexically_normal());
  return rebased.empty() ? from.lexically_normal().string() : rebased.string();
}

}  // namespace

MergeOutcome MergeRuns(const std::vector<MergeInput>& inputs, const MergeOptions& options) {
  if (inputs.empty()) Reject("nothing to merge: no results.json given");
  CheckSameRun(inputs);
  MergeOutcome outcome;
  outcome.missing_shards = CheckShards(inputs);
  if (!outcome.missing_shards.empty() && !options.allow_partial) {
    std::string list;
    for (const std::string& shard : outcome.missing_shards)
      list += (list.empty() ? "" : ", ") + shard;
    Reject("shard" + std::string(outcome.missing_shards.size() > 1 ? "s " : " ") + list +
           " missing (--allow-partial merges the others)");
  }

  RunResult& merged = outcome.run;
  merged.environment = inputs.front().run.environment;
  merged.environment.shard_index = 0;
  merged.environment.shard_count = 0;
  merged.environment.kernel_problems.clear();
  std::set<std::string> problems_seen;
  std::map<std::pair<std::string, std::string>, const MergeInput*> owner;  // (tool, id) -> input
  for (const MergeInput& input : inputs) {
    const Environment& env = input.run.environment;
    if (env.start_time < merged.environment.start_time)
      merged.environment.start_time = env.start_time;
    for (const std::string& line : env.kernel_problems) {
      if (problems_seen.insert(line).second) merged.environment.kernel_problems.push_back(line);
    }
    merged.summary.duration_s = std::max(merged.summary.duration_s, input.run.summary.duration_s);
    for (const CaseResult& result : input.run.cases) {
      const auto [it, inserted] = owner.emplace(std::pair(result.tool, result.id), &input);
      if (!inserted)
        Reject("overlapping runs: case " + CaseName(result) + " is in both " +
               PathText(*it->second) + " and " + PathText(input));
      CaseResult copy = result;
      copy.log = RebaseLog(result.log, input.results_path, options.out_dir);
      merged.cases.push_back(std::move(copy));
    }
  }
  std::sort(merged.cases.begin(), merged.cases.end(), [](const CaseResult& a, const CaseResult& b) {
    return std::tie(a.tool, a.id) < std::tie(b.tool, b.id);
  });
  RecountSummary(merged);
  merged.clauses = ClauseVerdicts(merged.cases);
  return outcome;
}

}  // namespace conform
