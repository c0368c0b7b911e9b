// Merging the results of several runs into one: meant for the shards of one run (`run --shard
// K/N` in N CI jobs), so that the merge of all N shards reads as one unsharded run.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "reports/result_model.h"

namespace conform {

// One run to merge and where its results.json was read from: case logs are relative to that
// file's folder.
struct MergeInput {
  std::filesystem::path results_path;
  RunResult run;
};

struct MergeOptions {
  // The folder the merged results.json goes into; case logs are rewritten relative to it.
  std::filesystem::path out_dir;
  // Accept sharded inputs that do not cover all N shards (the missing ones are named in
  // MergeOutcome::missing_shards instead of being an error).
  bool allow_partial = false;
};

struct MergeOutcome {
  RunResult run;
  // "2/4", ...: the shards of N no input holds; empty unless options.allow_partial let them be.
  std::vector<std::string> missing_shards;
};

// Merges `inputs` (at least one). They must come from the same run: equal environment.suite,
// target (sandbox when target is empty), kernel_release and runner_version; and either none is
// sharded, or all are shards of the same count N with distinct indexes. No case (id and tool) may
// be in two inputs. Anything else throws ReportError with one line naming the field, shard or
// case and both files.
//
// The merged run:
//   - cases: all of them, sorted by (tool, id), so the order depends neither on how the runner
//     spread cases over shards nor on the order of `inputs` (an unsharded run lists cases in the
//     suite's own order: compare merges by case id, not by position);
//   - case logs: made relative to options.out_dir (absolute ones are kept as they are);
//   - environment: the first input's, without shard, with the earliest start_time (RFC 3339 UTC
//     as the runner writes it, so the text compares as the time) and kernel_problems of all
//     inputs (each line once, in input order);
//   - summary: recounted from the cases; duration_s is the longest input's, since shards run in
//     parallel (the wall time of the whole run, not the machine time it took);
//   - clauses: recomputed from the cases.
MergeOutcome MergeRuns(const std::vector<MergeInput>& inputs, const MergeOptions& options);

}  // namespace conform
