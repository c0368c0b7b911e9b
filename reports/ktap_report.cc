#include "reports/ktap_report.h"

#include <array>
#include <charconv>
#include <cmath>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "reports/report_text.h"

namespace conform {

namespace {

// Lines kunit_parser.py stops reading at, wherever they appear in a line (its KTAP_END).
constexpr std::array<std::string_view, 3> kConsoleEndMarkers = {
    "List of all partitions:", "Kernel panic - not syncing: VFS:", "reboot: System halted"};

constexpr size_t kMaxDirectiveBytes = 200;
constexpr std::string_view kFullwidthNumberSign = "\xEF\xBC\x83";  // U+FF03

// `line` (one line of ReadableText) with a space before the first ':' of every console end marker
// in it, so that the parser does not take it for the end of the output.
std::string BreakEndMarkers(std::string line) {
  for (const std::string_view marker : kConsoleEndMarkers) {
    const size_t colon = marker.find(':');
    for (size_t at = line.find(marker); at != std::string::npos; at = line.find(marker, at + 1))
      line.insert(at + colon, " ");
  }
  return line;
}

// A test name: no whitespace (trailing blanks would break the parser's name matching) and no
// '#' (it starts the directive).
std::string Name(std::string_view raw) {
  std::string name = ReadableText(raw);
  for (char& ch : name)
    if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '#') ch = '_';
  return name.empty() ? "unnamed" : name;
}

// Directive data: the first line of a reason, without '#'.
std::string DirectiveData(std::string_view reason) {
  const std::string line = FirstLine(reason, kMaxDirectiveBytes);
  std::string data;
  for (const char ch : line) {
    if (ch == '#') {
      data += kFullwidthNumberSign;
    } else {
      data.push_back(ch == '\t' ? ' ' : ch);
    }
  }
  return BreakEndMarkers(std::move(data));
}

// Whether the directive data shows all of `reason`: then diagnostic lines would only repeat it.
bool FitsDirective(std::string_view reason) {
  const std::string text = ReadableText(reason);
  const size_t begin = text.find_first_not_of(" \t\n");
  const size_t end = text.find_last_not_of(" \t\n");
  if (begin == std::string::npos) return true;
  const std::string_view whole = std::string_view(text).substr(begin, end + 1 - begin);
  return whole.find('\n') == std::string_view::npos && whole.find('#') == std::string_view::npos &&
         whole.size() <= kMaxDirectiveBytes;
}

// Every line of `text` as a diagnostic line at `indent`.
void AppendDiagnostics(std::string_view text, const std::string& indent, std::string& out) {
  const std::string readable = ReadableText(text);
  std::string_view rest = readable;
  // Blank lines around the text say nothing.
  while (!rest.empty() && rest.back() == '\n') rest.remove_suffix(1);
  for (size_t end = rest.find('\n');
       end != std::string_view::npos &&
       rest.substr(0, end).find_first_not_of(" \t") == std::string_view::npos;
       end = rest.find('\n')) {
    rest.remove_prefix(end + 1);
  }
  for (;;) {
    const size_t end = rest.find('\n');
    std::string line(rest.substr(0, end));
    // "# Subtest: X" would open a nested test; one more space keeps it a diagnostic.
    if (line.starts_with("Subtest:")) line.insert(0, " ");
    out += indent + "# " + BreakEndMarkers(std::move(line)) + "\n";
    if (end == std::string_view::npos) break;
    rest.remove_prefix(end + 1);
  }
}

std::string Seconds(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) seconds = 0;
  char buffer[64];
  const auto [end, ec] =
      std::to_chars(buffer, buffer + sizeof buffer, seconds, std::chars_format::fixed, 3);
  return ec == std::errc() ? std::string(buffer, end) : "0.000";
}

struct Group {
  std::string name;
  std::vector<const CaseResult*> cases;
};

// Cases grouped by gtest suite (and tool, in a tools run), in order of first appearance.
std::vector<Group> GroupCases(const std::vector<CaseResult>& cases) {
  std::vector<Group> groups;
  std::unordered_map<std::string, size_t> index;
  for (const CaseResult& c : cases) {
    std::string name = Name(SuiteOf(c.id));
    if (!c.tool.empty()) name += "/" + Name(c.tool);
    auto [it, inserted] = index.try_emplace(name, groups.size());
    if (inserted) groups.push_back(Group{std::move(name), {}});
    groups[it->second].cases.push_back(&c);
  }
  return groups;
}

void AppendEnvironment(const RunResult& run, std::string& out) {
  const Environment& env = run.environment;
  const Summary summary = CountSummary(run);
  auto add = [&out](std::string_view key, const std::string& value) {
    if (!value.empty()) AppendDiagnostics(std::string(key) + ": " + value, "", out);
  };
  add("kernel_release", env.kernel_release);
  add("kernel_config_source", env.kernel_config_source);
  for (const auto& [name, value] : WhereFields(env)) add(name, value);
  add("suite", env.suite);
  if (env.shard_count > 0)
    add("shard", std::to_string(env.shard_index) + "/" + std::to_string(env.shard_count));
  add("runner_version", env.runner_version);
  add("hostname", env.hostname);
  add("start_time", env.start_time);
  add("duration_s", Seconds(summary.duration_s));
  std::string features;
  for (const auto& [name, present] : env.features)
    features += (features.empty() ? "" : " ") + name + "=" + (present ? "yes" : "no");
  add("features", features);
  add("summary", SummaryText(summary));
  for (const std::string& problem : env.kernel_problems) add("kernel_problem", problem);
}

void AppendCase(const CaseResult& c, size_t number, const std::string& indent, std::string& out) {
  const std::string reason =
      c.reason.empty() ? std::string("no reason recorded for ") + StatusName(c.status) : c.reason;
  // Parsers show a failed test's diagnostics, not its directive data: every "not ok" gets its
  // reason as diagnostics; a SKIP only when its result line cannot show all of it; an XFAIL its
  // own reason and the expectation's, an XPASS that its expectation is stale.
  const CaseExpectation expected = c.expectation.value_or(CaseExpectation{});
  if (c.status == Status::kXpass) {
    AppendDiagnostics("XPASS: " + reason + " (" + expected.link + ")", indent, out);
  } else if (c.status != Status::kPass && (c.status != Status::kSkip || !FitsDirective(reason))) {
    AppendDiagnostics(reason, indent, out);
  }
  if (c.status == Status::kXfail)
    AppendDiagnostics("expected failure: " + expected.reason + " (" + expected.link + ")", indent,
                      out);
  const std::string test = std::to_string(number) + " " + Name(CaseOf(c.id));
  switch (c.status) {
    case Status::kPass:
      out += indent + "ok " + test + "\n";
      break;
    case Status::kSkip:
      out += indent + "ok " + test + " # SKIP " + DirectiveData(reason) + "\n";
      break;
    case Status::kFail:
      out += indent + "not ok " + test + "\n";
      break;
    case Status::kError:
      out += indent + "not ok " + test + " # ERROR " + DirectiveData(reason) + "\n";
      break;
    case Status::kTimeout:
      out += indent + "not ok " + test + " # TIMEOUT " + DirectiveData(reason) + "\n";
      break;
    case Status::kMiss:
      out += indent + "not ok " + test + " # ERROR MISS: " + DirectiveData(reason) + "\n";
      break;
    case Status::kXfail:
      // "ok" as kselftest writes it (ksft_test_result_xfail): an expected failure does not fail
      // the run, and kunit_parser.py counts it as passed, not failed.
      out += indent + "ok " + test + " # XFAIL " + DirectiveData(expected.reason) + "\n";
      break;
    case Status::kXpass:
      out += indent + "ok " + test + "\n";
      break;
  }
}

}  // namespace

std::string ToKtap(const RunResult& run) {
  const std::vector<Group> groups = GroupCases(run.cases);
  std::string out = "KTAP version 1\n1.." + std::to_string(groups.size()) + "\n";
  AppendEnvironment(run, out);
  const std::string indent = "  ";
  for (size_t g = 0; g < groups.size(); ++g) {
    const Group& group = groups[g];
    out += indent + "KTAP version 1\n";
    out += indent + "# Subtest: " + group.name + "\n";
    out += indent + "1.." + std::to_string(group.cases.size()) + "\n";
    bool all_ok = true, all_skipped = true;
    for (size_t k = 0; k < group.cases.size(); ++k) {
      const Status status = group.cases[k]->status;
      all_ok = all_ok && (status == Status::kPass || status == Status::kSkip ||
                          status == Status::kXfail || status == Status::kXpass);
      all_skipped = all_skipped && status == Status::kSkip;
      AppendCase(*group.cases[k], k + 1, indent, out);
    }
    out += std::string(all_ok ? "ok " : "not ok ") + std::to_string(g + 1) + " " + group.name +
           (all_skipped ? " # SKIP" : "") + "\n";
  }
  return out;
}

}  // namespace conform
