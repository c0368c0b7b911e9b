#include "toolconf/scenarios.h"

#include <unistd.h>

#include <algorithm>
#include <map>
#include <set>

#include "toolconf/scenario_parts.h"

namespace conform::toolconf {
namespace {

using namespace scenario_parts;

std::vector<Scenario> Build() {
  std::vector<Scenario> s;
  AddAddScenarios(s);
  AddDelListScenarios(s);
  AddExecScenarios(s);
  AddIdScenarios(s);
  AddMonitorStartScenarios(s);
  return s;
}

void Diff(const json& ref, const json& tool, const std::string& path,
          std::vector<std::string>& out) {
  if (ref == tool) return;
  if (ref.is_object() && tool.is_object()) {
    std::set<std::string> keys;
    for (const auto& [k, v] : ref.items()) keys.insert(k);
    for (const auto& [k, v] : tool.items()) keys.insert(k);
    for (const auto& k : keys) {
      if (k == "detail") continue;
      Diff(ref.contains(k) ? ref[k] : json(), tool.contains(k) ? tool[k] : json(),
           path.empty() ? k : path + "." + k, out);
    }
    return;
  }
  auto show = [](const json& j) { return j.is_null() ? std::string("(absent)") : j.dump(); };
  out.push_back(path + ": reference " + show(ref) + " | tool " + show(tool));
}

}  // namespace

const json& TraceView::Step(const std::string& label) const {
  for (auto it = trace_.rbegin(); it != trace_.rend(); ++it)
    if (it->value("step", "") == label) return *it;
  return kNull;
}

std::string TraceView::Exit(const std::string& label) const {
  const auto& step = Step(label);
  return step.is_object() ? step.value("exit", "") : "";
}

const json& TraceView::Observed(const std::string& label) const {
  const auto& step = Step(label);
  return step.is_object() && step.contains("observed") ? step["observed"] : kNull;
}

const json& TraceView::Entries(const std::string& label) const {
  static const json empty = json::object();
  const auto& step = Step(label);
  if (!step.is_object()) return empty;
  // Tool steps keep the state in "state", Observe() notes in "observed" (references only: a
  // copy here would dangle).
  const json& state = step.contains("state") ? step["state"] : At(step, "observed");
  return state.is_object() && state.contains("entries") ? state["entries"] : empty;
}

const json& TraceView::Entry(const std::string& label, const std::string& name) const {
  const auto& entries = Entries(label);
  return entries.contains(name) ? entries[name] : kNull;
}

const std::vector<Scenario>& AllScenarios() {
  static const std::vector<Scenario> all = Build();
  return all;
}

const Scenario* FindScenario(const std::string& name) {
  for (const auto& s : AllScenarios())
    if (s.name == name) return &s;
  return nullptr;
}

std::vector<std::string> CompareTraces(const json& reference, const json& tool) {
  // The same difference at several steps (a run folder that is never shared) is shown once,
  // at its first step, with the later steps listed.
  std::vector<std::string> order;
  std::map<std::string, std::pair<std::string, std::vector<size_t>>> seen;
  const size_t n = std::max(reference.size(), tool.size());
  for (size_t i = 0; i < n; ++i) {
    const json ref = i < reference.size() ? reference[i] : json();
    const json got = i < tool.size() ? tool[i] : json();
    std::vector<std::string> diffs;
    Diff(ref, got, "", diffs);
    const std::string label = (ref.is_object() ? ref : got).value("step", std::string("?"));
    for (const auto& d : diffs) {
      auto [it, inserted] = seen.try_emplace(d);
      if (inserted) {
        order.push_back(d);
        it->second.first = "step " + std::to_string(i) + " \"" + label + "\": " + d;
      } else {
        it->second.second.push_back(i);
      }
    }
  }
  std::vector<std::string> out;
  for (const auto& d : order) {
    const auto& [text, later] = seen[d];
    std::string line = text;
    if (!later.empty()) {
      line += " (also at step";
      if (later.size() > 1) line += "s";
      for (size_t k = 0; k < later.size(); ++k) line += (k ? ", " : " ") + std::to_string(later[k]);
      line += ")";
    }
    out.push_back(line);
  }
  return out;
}

}  // namespace conform::toolconf
