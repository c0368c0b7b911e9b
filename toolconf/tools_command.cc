#include "toolconf/tools_command.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <set>

#include "fixtures/probe.h"
#include "reports/json_report.h"
#include "reports/junit_report.h"
#include "runner/executor.h"
#include "runner/journal.h"
#include "runner/plan.h"
#include "runner/progress.h"
#include "runner/run_command.h"
#include "runner/run_expectations.h"
#include "toolconf/adapters.h"
#include "toolconf/scenarios.h"

namespace conform {
namespace {

using toolconf::ResolvedTool;

std::map<std::string, std::string> ParseToolPaths(const std::vector<std::string>& given) {
  std::map<std::string, std::string> paths;
  for (const auto& entry : given) {
    const auto eq = entry.find('=');
    if (eq == std::string::npos) {
      paths["ip"] = entry;  // the issue's `--tool-path` for iproute2's ip
    } else if (eq == 0 || eq + 1 == entry.size()) {
      throw UsageError("--tool-path " + entry + ": expected PATH or NAME=PATH");
    } else {
      paths[entry.substr(0, eq)] = entry.substr(eq + 1);
    }
  }
  for (const auto& [name, path] : paths)
    if (access(path.c_str(), X_OK) != 0)
      throw UsageError("--tool-path " + name + "=" + path + ": not an executable file");
  return paths;
}

std::string FirstLine(const std::string& text) { return text.substr(0, text.find('\n')); }

// The per-tool verdicts and every deviation, for people: stderr and DIR/deviations.txt.
std::string DeviationReport(const std::vector<CaseResult>& cases, const std::string& reference) {
  struct Counts {
    std::string version;
    int pass = 0, fail = 0, skip = 0, other = 0;
    std::vector<std::string> notes;
  };
  std::map<std::string, Counts> by_tool;
  std::vector<std::string> order;
  for (const auto& c : cases) {
    if (!by_tool.count(c.tool)) order.push_back(c.tool);
    auto& t = by_tool[c.tool];
    t.version = c.tool_version;
    switch (c.status) {
      case Status::kPass:
      case Status::kXpass:  // passed; the note below names the stale expectation
        ++t.pass;
        break;
      case Status::kFail:
      case Status::kXfail:  // a deviation all the same, a known one: its note says XFAIL
        ++t.fail;
        break;
      case Status::kSkip:
        ++t.skip;
        break;
      default:
        ++t.other;
        break;
    }
    if (c.status != Status::kPass && c.status != Status::kSkip)
      t.notes.push_back(std::string(StatusName(c.status)) + " " + c.id + ": " +
                        FirstLine(c.reason));
  }
  std::string text = "reference: " + reference + "\n";
  char line[512];
  std::snprintf(line, sizeof(line), "%-14s %-44s %5s %5s %5s %5s\n", "tool", "version", "pass",
                "fail", "skip", "error");
  text += line;
  for (const auto& name : order) {
    const auto& t = by_tool[name];
    std::snprintf(line, sizeof(line), "%-14s %-44s %5d %5d %5d %5d\n", name.c_str(),
                  t.version.substr(0, 44).c_str(), t.pass, t.fail, t.skip, t.other);
    text += line;
  }
  for (const auto& name : order) {
    const auto& t = by_tool[name];
    if (t.notes.empty()) continue;
    text += "\ndeviations of " + name + " (" + t.version + "):\n";
    for (const auto& n : t.notes) text += "  " + n + "\n";
  }
  return text;
}

}  // namespace

int ToolsCommand(const ToolsOptions& options) {
  if (geteuid() != 0)
    throw UsageError("must run as root: every scenario creates namespaces (euid is " +
                     std::to_string(geteuid()) + ")");
  const auto runner = std::filesystem::read_symlink("/proc/self/exe");
  const auto scenario_binary = runner.parent_path() / "netns-conform-tool-scenarios";
  if (access(scenario_binary.c_str(), X_OK) != 0)
    throw InfrastructureError("scenario binary not found: " + scenario_binary.string());
  const auto tool_paths = ParseToolPaths(options.tool_paths);

  std::vector<std::string> specs = options.tools;
  if (specs.empty()) {
    specs = {"ip", "util-linux", "pyroute2", "busybox"};
    specs.insert(specs.begin(), toolconf::FindNetnsRef(tool_paths, runner.parent_path())
                                    ? "netns-ref"
                                    : "builtin-ref");
  }
  std::vector<ResolvedTool> tools;
  std::set<std::string> names;
  try {
    for (const auto& spec : specs) {
      tools.push_back(toolconf::ResolveTool(spec, tool_paths, runner.parent_path()));
      if (!names.insert(tools.back().profile.name).second)
        throw UsageError("tool \"" + tools.back().profile.name + "\" is given twice");
    }
  } catch (const toolconf::ProfileError& e) {
    throw UsageError(e.what());
  }
  const ResolvedTool reference = toolconf::ResolveReference(tool_paths, runner.parent_path());
  const std::string ref_json = toolconf::ProfileToJson(reference.profile).dump();

  std::vector<PlannedCase> scenarios;
  for (const auto& s : toolconf::AllScenarios())
    scenarios.push_back(PlannedCase{.id = "Tools." + s.name, .clause = s.clause});
  // Expectations are checked against every scenario of every tool given, before --filter: a
  // filtered run must still accept a file written for the whole set.
  std::vector<PlannedCase> every_case;
  for (const auto& tool : tools) {
    for (const auto& s : scenarios)
      every_case.push_back(PlannedCase{.id = s.id, .clause = s.clause, .tool = tool.profile.name});
  }
  // No features here: the scenarios do not probe the kernel, so their names cannot be checked.
  const Expectations expectations =
      LoadRunExpectations(options.expect_files, every_case, {}, "the tool scenarios");
  scenarios = FilterCases(scenarios, options.filters);
  std::vector<PlannedCase> plan;
  for (const auto& tool : tools) {
    for (const auto& s : scenarios) {
      PlannedCase c = s;
      c.tool = tool.profile.name;
      c.tool_version = tool.version;
      if (tool.unavailable)
        c.skip_reason = "unsupported by " + tool.profile.name + ": " + *tool.unavailable;
      c.extra_args = {"--tool-json=" + toolconf::ProfileToJson(tool.profile).dump(),
                      "--ref-json=" + ref_json, "--tool-version=" + tool.version,
                      "--ref-version=" + reference.version};
      plan.push_back(std::move(c));
    }
  }

  ExecutorOptions exec;
  exec.runner_binary = runner;
  exec.suite_binary = scenario_binary;
  exec.out_dir = std::filesystem::absolute(options.out_dir);
  exec.jobs = options.jobs > 0 ? options.jobs
                               : static_cast<int>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
  exec.case_timeout = std::chrono::milliseconds(static_cast<long>(options.timeout_s * 1000));
  PrepareOutDir(exec.out_dir);
  std::error_code ec;
  std::filesystem::remove(exec.out_dir / "deviations.txt", ec);

  std::string interrupted;
  Environment environment = InPlaceEnvironment();
  environment.suite = "tools";
  const RunResult run =
      ExecuteWithReports(plan, exec, std::move(environment), expectations, &interrupted);
  const std::string deviations =
      DeviationReport(run.cases, reference.profile.name + " (" + reference.version + ")");
  WriteFileAtomically(exec.out_dir / "deviations.txt", deviations);
  std::fprintf(stderr, "%s", deviations.c_str());
  std::fprintf(stderr, "reports: %s/results.json, %s/junit.xml, %s/deviations.txt\n",
               exec.out_dir.c_str(), exec.out_dir.c_str(), exec.out_dir.c_str());
  if (!interrupted.empty()) std::fprintf(stderr, "interrupted by %s\n", interrupted.c_str());
  return ExitStatusOf(run.summary);
}

}  // namespace conform
