#include "runner/report_command.h"

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <system_error>

#include "reports/apply_expectations.h"
#include "reports/expectations.h"
#include "reports/json_report.h"
#include "reports/junit_report.h"
#include "reports/kcidb_report.h"
#include "reports/ktap_report.h"
#include "reports/matrix_report.h"
#include "reports/report_text.h"
#include "reports/run_diff.h"
#include "reports/run_merge.h"
#include "runner/plan.h"

namespace conform {

namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kFormats = {"junit", "ktap", "kcidb", "html"};

// `--expect FILE`s read and checked against the cases of `runs` (an entry must match a case of
// one of them), their recorded features naming the known ones. Throws ReportError.
Expectations LoadExpectationsFor(const std::vector<std::string>& files,
                                 const std::vector<const RunResult*>& runs) {
  if (files.empty()) return {};
  Expectations expectations = ReadExpectationsFiles(files);
  std::vector<CaseKey> cases;
  std::map<std::string, bool> features;
  for (const RunResult* run : runs) {
    for (const CaseResult& c : run->cases) cases.emplace_back(c.id, c.tool);
    features.insert(run->environment.features.begin(), run->environment.features.end());
  }
  CheckExpectationsMatch(expectations, cases, features, "the results");
  return expectations;
}

// A run that `run` would have ended with exit status 1.
bool HasFailures(const Summary& summary) {
  return summary.failed + summary.errors + summary.timeouts + summary.missed > 0;
}

void MakeFolder(const fs::path& folder) {
  if (folder.empty()) return;
  std::error_code error;
  fs::create_directories(folder, error);
  if (error) throw ReportError(folder.string() + ": cannot create the folder: " + error.message());
}

// `report merge --out` a shard's own folder would replace that shard's results.json by the
// merge: the input is gone, and a retry merges the merge with the other shards.
void RefuseOverwritingAnInput(const fs::path& out_file, const std::vector<std::string>& inputs) {
  std::error_code error;
  const fs::path target = fs::weakly_canonical(out_file, error);
  if (error) return;  // the folder cannot be resolved: MakeFolder reports why
  for (const std::string& input : inputs) {
    if (fs::weakly_canonical(input, error) == target && !error)
      throw UsageError("--out " + out_file.parent_path().string() + " would overwrite the input " +
                       input);
  }
}

// Writes all of `text` to stdout; a closed pipe or a full disk must not pass for success.
void PrintAll(const std::string& text) {
  if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size() || std::fflush(stdout) != 0)
    throw ReportError(std::string("cannot write to stdout: ") + std::strerror(errno));
}

// The one-run page of the matrix report. Its links to case logs are relative to the page, so
// `folder` leads from the page's folder (FILE's, or "." for stdout) to the run's.
std::string RenderHtml(const RunResult& run, const fs::path& results_path, const fs::path& out) {
  MatrixColumn column;
  column.name = run.environment.target.empty() ? run.environment.sandbox : run.environment.target;
  column.kind = "target";
  column.run = run;
  column.folder = ".";
  if (!out.empty()) {
    const fs::path run_dir = fs::absolute(results_path).parent_path().lexically_normal();
    const fs::path page_dir = fs::absolute(out).parent_path().lexically_normal();
    const fs::path relative = run_dir.lexically_relative(page_dir);
    column.folder = relative.empty() ? run_dir.string() : relative.string();
  }
  column.wall_s = run.summary.duration_s;
  const std::string title =
      "netns-conform: " + column.name + " (kernel " + run.environment.kernel_release + ")";
  return ToMatrixHtml({column}, title);
}

std::string Render(const RunResult& run, const std::string& format, const fs::path& results_path,
                   const fs::path& out, const std::string& origin) {
  if (format == "junit") return ToJUnitXml(run);
  if (format == "ktap") return ToKtap(run);
  if (format == "kcidb") {
    KcidbOptions options;
    if (!origin.empty()) options.origin = origin;
    return ToKcidb(run, options).dump(2) + "\n";
  }
  if (format == "html") return RenderHtml(run, results_path, out);
  throw UsageError("unknown --to format '" + format + "'");
}

}  // namespace

ReportSubcommand::ReportSubcommand(CLI::App& app) {
  report_ = app.add_subcommand("report", "merge, compare and convert results.json of earlier runs");
  report_->require_subcommand(1);

  merge_ = report_->add_subcommand(
      "merge", "merge the shards of one run into one results.json and junit.xml");
  merge_->add_option("results", merge_inputs_, "results.json of each shard")->required();
  merge_->add_option("--out", merge_out_, "output folder (made when missing)")->required();
  merge_->add_flag("--allow-partial", allow_partial_,
                   "merge even when shards are missing (they are named on stderr)");

  diff_ = report_->add_subcommand(
      "diff", "list regressions, fixes and other changes from BASE to NEW; exit 1 on a regression");
  diff_->add_option("base", diff_base_, "results.json of the base run")->required();
  diff_->add_option("new", diff_new_, "results.json of the new run")->required();
  diff_->add_flag("--json", diff_json_, "print JSON");
  diff_->add_option("--expect", diff_expect_,
                    "expected results applied to both runs first (repeatable)");

  convert_ = report_->add_subcommand("convert", "write a results.json in another format");
  convert_->add_option("results", convert_input_, "results.json")->required();
  convert_->add_option("--to", convert_to_, "junit, ktap, kcidb or html")
      ->required()
      ->check(CLI::IsMember(kFormats));
  convert_->add_option("--out", convert_out_, "write FILE atomically instead of stdout");
  convert_->add_option("--origin", convert_origin_, "KCIDB origin (--to kcidb only)");
  convert_->add_option("--expect", convert_expect_,
                       "expected results applied before converting (repeatable)");
}

bool ReportSubcommand::chosen() const { return report_->parsed(); }

int ReportSubcommand::Run() const {
  if (merge_->parsed()) return Merge();
  if (diff_->parsed()) return Diff();
  return Convert();
}

int ReportSubcommand::Merge() const {
  std::vector<MergeInput> inputs;
  for (const std::string& path : merge_inputs_) inputs.push_back({path, ReadResultsFile(path)});
  const MergeOutcome outcome = MergeRuns(inputs, {merge_out_, allow_partial_});
  const fs::path out_dir = merge_out_;
  RefuseOverwritingAnInput(out_dir / "results.json", merge_inputs_);
  MakeFolder(out_dir);
  // junit.xml first: results.json is the source of truth, so once it is there both are.
  WriteFileAtomically(out_dir / "junit.xml", ToJUnitXml(outcome.run));
  WriteResultsFile(out_dir / "results.json", outcome.run);

  if (!outcome.missing_shards.empty()) {
    std::string list;
    for (const std::string& shard : outcome.missing_shards)
      list += (list.empty() ? "" : ", ") + shard;
    std::fprintf(stderr, "netns-conform: warning: partial merge, shards missing: %s\n",
                 list.c_str());
  }
  const Summary& summary = outcome.run.summary;
  std::printf("merged %zu results into %s: %s\n", inputs.size(), (out_dir / "results.json").c_str(),
              SummaryText(summary).c_str());
  return HasFailures(summary) ? 1 : 0;
}

int ReportSubcommand::Diff() const {
  RunResult base = ReadResultsFile(diff_base_);
  RunResult now = ReadResultsFile(diff_new_);
  const Expectations expectations = LoadExpectationsFor(diff_expect_, {&base, &now});
  ApplyExpectations(base, expectations);
  ApplyExpectations(now, expectations);
  RunDiff diff;
  try {
    diff = DiffRuns(base, now);
  } catch (const ReportError& e) {
    throw ReportError(diff_base_ + " vs " + diff_new_ + ": " + e.what());
  }
  PrintAll(diff_json_ ? DiffToJson(diff, diff_base_, diff_new_).dump(2) + "\n"
                      : DiffToText(diff, diff_base_, diff_new_));
  return diff.regressions.empty() ? 0 : 1;
}

int ReportSubcommand::Convert() const {
  if (!convert_origin_.empty() && convert_to_ != "kcidb")
    throw UsageError("--origin applies to --to kcidb only");
  RunResult run = ReadResultsFile(convert_input_);
  ApplyExpectations(run, LoadExpectationsFor(convert_expect_, {&run}));
  const std::string text = Render(run, convert_to_, convert_input_, convert_out_, convert_origin_);
  if (convert_out_.empty()) {
    PrintAll(text);
  } else {
    MakeFolder(fs::path(convert_out_).parent_path());
    WriteFileAtomically(convert_out_, text);
  }
  return 0;
}

}  // namespace conform
