// Unit tests of merging runs (reports/run_merge.h) and diffing them (reports/run_diff.h).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "reports/json_report.h"
#include "reports/result_model.h"
#include "reports/run_diff.h"
#include "reports/run_merge.h"

namespace conform {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

CaseResult Case(const std::string& id, Status status, const std::string& log = "") {
  CaseResult result;
  result.id = id;
  result.clause = "netns7." + id;
  result.status = status;
  if (status != Status::kPass) result.reason = std::string(StatusName(status)) + " of " + id;
  result.duration_s = 0.5;
  result.log = log;
  return result;
}

RunResult Shard(int index, int count, std::vector<CaseResult> cases, double duration_s = 1,
                const std::string& start_time = "2026-01-01T00:00:00Z") {
  RunResult run;
  run.environment.kernel_release = "6.1.0-test";
  run.environment.kernel_config_source = "/proc/config.gz";
  run.environment.sandbox = "inplace";
  run.environment.runner_version = "0.1.0";
  run.environment.hostname = "ci-" + std::to_string(index);
  run.environment.start_time = start_time;
  run.environment.target = "host";
  run.environment.suite = "suite";
  run.environment.shard_index = index;
  run.environment.shard_count = count;
  run.cases = std::move(cases);
  run.summary.duration_s = duration_s;
  RecountSummary(run);
  run.clauses = ClauseVerdicts(run.cases);
  return run;
}

std::vector<std::string> Ids(const RunResult& run) {
  std::vector<std::string> ids;
  for (const CaseResult& result : run.cases) ids.push_back(result.id);
  return ids;
}

std::string MergeError(const std::vector<MergeInput>& inputs, bool allow_partial = false) {
  try {
    MergeRuns(inputs, {"out", allow_partial});
  } catch (const ReportError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(MergeRuns, ShardsBecomeOneRunSortedByIdWithLogsRelativeToTheOutput) {
  const MergeOutcome outcome = MergeRuns(
      {{"ci/b/results.json",
        Shard(2, 2, {Case("B.Two", Status::kFail, "logs/B.Two.log"), Case("A.One", Status::kPass)},
              3, "2026-01-01T00:00:05Z")},
       {"ci/a/results.json", Shard(1, 2, {Case("C.Three", Status::kSkip, "logs/C.Three.log")}, 7)}},
      {"ci/merged", false});
  const RunResult& run = outcome.run;
  EXPECT_THAT(outcome.missing_shards, IsEmpty());
  EXPECT_THAT(Ids(run), ElementsAre("A.One", "B.Two", "C.Three"));
  EXPECT_EQ(run.cases[1].log, "../b/logs/B.Two.log");
  EXPECT_EQ(run.cases[2].log, "../a/logs/C.Three.log");
  EXPECT_EQ(run.environment.shard_count, 0);
  EXPECT_EQ(run.environment.shard_index, 0);
  EXPECT_EQ(run.environment.hostname, "ci-2");  // the first input's
  EXPECT_EQ(run.environment.start_time, "2026-01-01T00:00:00Z");
  EXPECT_EQ(run.summary.duration_s, 7);
  EXPECT_EQ(run.summary.total, 3);
  EXPECT_EQ(run.summary.passed, 1);
  EXPECT_EQ(run.summary.failed, 1);
  EXPECT_EQ(run.summary.skipped, 1);
  EXPECT_EQ(run.clauses.size(), 3u);
  // The merged run is a valid results.json.
  EXPECT_NO_THROW(RunResultFromJson(ToJson(run)));
}

TEST(MergeRuns, UnshardedRunsOfDisjointCasesMerge) {
  const MergeOutcome outcome =
      MergeRuns({{"a/results.json", Shard(0, 0, {Case("A.One", Status::kPass)})},
                 {"b/results.json", Shard(0, 0, {Case("B.Two", Status::kPass)})}},
                {"out", false});
  EXPECT_THAT(Ids(outcome.run), ElementsAre("A.One", "B.Two"));
}

TEST(MergeRuns, RefusesOverlapsNamingBothFiles) {
  EXPECT_THAT(MergeError({{"a/results.json", Shard(1, 2, {Case("A.One", Status::kPass)})},
                          {"b/results.json", Shard(1, 2, {Case("B.Two", Status::kPass)})}}),
              HasSubstr("shard 1/2 is in both a/results.json and b/results.json"));
  EXPECT_THAT(MergeError({{"a/results.json", Shard(1, 2, {Case("A.One", Status::kPass)})},
                          {"b/results.json", Shard(2, 2, {Case("A.One", Status::kFail)})}}),
              HasSubstr("case A.One is in both a/results.json and b/results.json"));
}

TEST(MergeRuns, ToolsCasesAreKeyedByToolToo) {
  CaseResult ip = Case("Tools.Add", Status::kPass);
  ip.tool = "ip";
  CaseResult ref = Case("Tools.Add", Status::kPass);
  ref.tool = "netns-ref";
  const MergeOutcome outcome = MergeRuns(
      {{"a/results.json", Shard(1, 2, {ref})}, {"b/results.json", Shard(2, 2, {ip})}}, {"o"});
  EXPECT_EQ(outcome.run.cases.size(), 2u);
  EXPECT_THAT(
      MergeError({{"a/results.json", Shard(1, 2, {ip})}, {"b/results.json", Shard(2, 2, {ip})}}),
      HasSubstr("case Tools.Add (tool ip) is in both"));
}

TEST(MergeRuns, RefusesRunsThatDoNotBelongTogether) {
  RunResult other_kernel = Shard(2, 2, {Case("B.Two", Status::kPass)});
  other_kernel.environment.kernel_release = "6.12.0-test";
  EXPECT_THAT(MergeError({{"a/results.json", Shard(1, 2, {Case("A.One", Status::kPass)})},
                          {"b/results.json", other_kernel}}),
              HasSubstr("environment.kernel_release is '6.1.0-test' in a/results.json but "
                        "'6.12.0-test' in b/results.json"));
  RunResult tools = Shard(2, 2, {Case("B.Two", Status::kPass)});
  tools.environment.suite = "tools";
  EXPECT_THAT(MergeError({{"a/results.json", Shard(1, 2, {Case("A.One", Status::kPass)})},
                          {"b/results.json", tools}}),
              HasSubstr("environment.suite"));
  RunResult gvisor = Shard(2, 2, {Case("B.Two", Status::kPass)});
  gvisor.environment.target = "gvisor";
  EXPECT_THAT(MergeError({{"a/results.json", Shard(1, 2, {Case("A.One", Status::kPass)})},
                          {"b/results.json", gvisor}}),
              HasSubstr("environment.target"));
  EXPECT_THAT(MergeError({{"a/results.json", Shard(1, 2, {Case("A.One", Status::kPass)})},
                          {"b/results.json", Shard(2, 3, {Case("B.Two", Status::kPass)})}}),
              HasSubstr("shard 1/2 in a/results.json but shard 2/3 in b/results.json"));
  EXPECT_THAT(MergeError({{"a/results.json", Shard(1, 2, {Case("A.One", Status::kPass)})},
                          {"b/results.json", Shard(0, 0, {Case("B.Two", Status::kPass)})}}),
              HasSubstr("unsharded in b/results.json"));
}

TEST(MergeRuns, MissingShardsAreRefusedUnlessPartialIsAllowed) {
  const std::vector<MergeInput> inputs = {
      {"a/results.json", Shard(1, 4, {Case("A.One", Status::kPass)})},
      {"c/results.json", Shard(3, 4, {Case("C.Three", Status::kPass)})}};
  EXPECT_EQ(MergeError(inputs), "shards 2/4, 4/4 missing (--allow-partial merges the others)");
  const MergeOutcome outcome = MergeRuns(inputs, {"out", true});
  EXPECT_THAT(outcome.missing_shards, ElementsAre("2/4", "4/4"));
  EXPECT_EQ(outcome.run.cases.size(), 2u);
}

RunResult Unsharded(std::vector<CaseResult> cases) { return Shard(0, 0, std::move(cases)); }

TEST(DiffRuns, SortsEveryChangeIntoItsList) {
  const RunResult base =
      Unsharded({Case("A.PassToFail", Status::kPass), Case("A.SkipToTimeout", Status::kSkip),
                 Case("A.FailToPass", Status::kFail), Case("A.PassToSkip", Status::kPass),
                 Case("A.FailToError", Status::kFail), Case("A.Same", Status::kFail),
                 Case("A.Vanished", Status::kPass)});
  const RunResult now =
      Unsharded({Case("A.PassToFail", Status::kFail), Case("A.SkipToTimeout", Status::kTimeout),
                 Case("A.FailToPass", Status::kPass), Case("A.PassToSkip", Status::kSkip),
                 Case("A.FailToError", Status::kError), Case("A.Same", Status::kFail),
                 Case("A.New", Status::kFail)});
  const RunDiff diff = DiffRuns(base, now);
  auto ids = [](const std::vector<CaseChange>& changes) {
    std::vector<std::string> out;
    out.reserve(changes.size());
    for (const CaseChange& change : changes) out.push_back(change.id);
    return out;
  };
  EXPECT_THAT(ids(diff.regressions), ElementsAre("A.PassToFail", "A.SkipToTimeout"));
  EXPECT_THAT(ids(diff.fixes), ElementsAre("A.FailToPass"));
  EXPECT_THAT(ids(diff.changed), ElementsAre("A.FailToError", "A.PassToSkip"));
  EXPECT_THAT(ids(diff.added), ElementsAre("A.New"));
  EXPECT_THAT(ids(diff.vanished), ElementsAre("A.Vanished"));
  EXPECT_EQ(diff.regressions[0].reason, "FAIL of A.PassToFail");  // the reason in NEW

  const std::string text = DiffToText(diff, "base.json", "new.json");
  EXPECT_THAT(text, HasSubstr("2 regressions, 1 fix, 2 other changes, 1 new case, "
                              "1 vanished case\n"));
  EXPECT_THAT(text, HasSubstr("  A.PassToFail: PASS -> FAIL: FAIL of A.PassToFail\n"));
  EXPECT_THAT(text, HasSubstr("  A.Vanished: was PASS\n"));
  const nlohmann::json json = DiffToJson(diff, "base.json", "new.json");
  EXPECT_EQ(json["summary"]["regressions"], 2);
  EXPECT_EQ(json["regressions"][1]["base_status"], "SKIP");
  EXPECT_EQ(json["regressions"][1]["new_status"], "TIMEOUT");
  EXPECT_FALSE(json["added"][0].contains("base_status"));
  EXPECT_FALSE(json["vanished"][0].contains("new_status"));
}

// XFAIL is a known kernel bug: turning into one is no regression; XPASS is shown as a change;
// an XFAIL that now fails without its marker (a FAIL) is a regression.
TEST(DiffRuns, ExpectedResults) {
  auto expected = [](CaseResult c) {
    c.expectation = CaseExpectation{Status::kFail, "known", "https://bugs.example/1"};
    return c;
  };
  const RunResult base =
      Unsharded({Case("A.PassToXfail", Status::kPass), Case("A.XfailToFail", Status::kXfail),
                 Case("A.FailToXpass", Status::kFail), Case("A.XfailToPass", Status::kXfail),
                 Case("A.XpassToFail", Status::kXpass), Case("A.Xfail", Status::kXfail)});
  const RunResult now = Unsharded(
      {expected(Case("A.PassToXfail", Status::kXfail)), Case("A.XfailToFail", Status::kFail),
       expected(Case("A.FailToXpass", Status::kXpass)), Case("A.XfailToPass", Status::kPass),
       Case("A.XpassToFail", Status::kFail), expected(Case("A.Xfail", Status::kXfail))});
  const RunDiff diff = DiffRuns(base, now);
  auto ids = [](const std::vector<CaseChange>& changes) {
    std::vector<std::string> out;
    for (const CaseChange& change : changes) out.push_back(change.id);
    return out;
  };
  EXPECT_THAT(ids(diff.regressions), ElementsAre("A.XfailToFail", "A.XpassToFail"));
  EXPECT_THAT(ids(diff.fixes), IsEmpty());
  EXPECT_THAT(ids(diff.changed), ElementsAre("A.FailToXpass", "A.PassToXfail", "A.XfailToPass"));
  EXPECT_THAT(DiffToText(diff, "b", "n"), HasSubstr("  A.PassToXfail: PASS -> XFAIL: XFAIL of "
                                                    "A.PassToXfail\n"));
}

// Merging keeps XFAIL and XPASS with their expectations, and counts them apart.
TEST(MergeRuns, KeepsExpectedResults) {
  CaseResult xfail = Case("A.Xfail", Status::kXfail);
  xfail.expectation = CaseExpectation{Status::kFail, "known", "https://bugs.example/1"};
  CaseResult xpass = Case("B.Xpass", Status::kXpass);
  xpass.expectation = CaseExpectation{Status::kTimeout, "hang", "https://bugs.example/2"};
  const MergeOutcome outcome = MergeRuns(
      {{"s1/results.json", Shard(1, 2, {xfail})}, {"s2/results.json", Shard(2, 2, {xpass})}},
      {"out", false});
  ASSERT_EQ(outcome.run.cases.size(), 2u);
  EXPECT_EQ(outcome.run.cases[0].status, Status::kXfail);
  EXPECT_EQ(outcome.run.cases[0].expectation, xfail.expectation);
  EXPECT_EQ(outcome.run.cases[1].expectation, xpass.expectation);
  EXPECT_EQ(outcome.run.summary.xfailed, 1);
  EXPECT_EQ(outcome.run.summary.xpassed, 1);
  EXPECT_EQ(outcome.run.summary.failed, 0);
  EXPECT_EQ(outcome.run.clauses[0].status, Status::kXfail);
}

TEST(DiffRuns, RefusesUnrelatedRuns) {
  RunResult tools = Unsharded({Case("A.One", Status::kPass)});
  tools.environment.suite = "tools";
  try {
    DiffRuns(Unsharded({Case("A.One", Status::kPass)}), tools);
    ADD_FAILURE() << "no error";
  } catch (const ReportError& e) {
    EXPECT_STREQ(e.what(), "unrelated runs: suite 'suite' against suite 'tools'");
  }
  try {
    DiffRuns(Unsharded({Case("A.One", Status::kPass)}), Unsharded({Case("B.Two", Status::kPass)}));
    ADD_FAILURE() << "no error";
  } catch (const ReportError& e) {
    EXPECT_STREQ(e.what(), "unrelated runs: no case is in both");
  }
}

}  // namespace
}  // namespace conform
