// The tool scenarios: each drives a tool through ip-netns(8) operations in a fresh private
// world, records the observable state after each step (toolconf/side.h), and names the
// documented expectations its outcome must meet. A tool passes a scenario when its trace equals
// the reference's; the reference passes when its own trace meets the expectations.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "toolconf/side.h"

namespace conform::toolconf {

// Looks steps of a trace up by their label.
class TraceView {
 public:
  explicit TraceView(const nlohmann::json& trace) : trace_(trace) {}
  // The step with this label (the last one when repeated); null when absent.
  const nlohmann::json& Step(const std::string& label) const;
  // Shorthands: a step's "exit", "observed", state entry NAME (null when absent).
  std::string Exit(const std::string& label) const;
  const nlohmann::json& Observed(const std::string& label) const;
  const nlohmann::json& Entries(const std::string& label) const;
  const nlohmann::json& Entry(const std::string& label, const std::string& name) const;

 private:
  const nlohmann::json& trace_;
};

// Collects the expectations a trace does not meet.
class Expect {
 public:
  void That(bool ok, const std::string& what) {
    if (!ok) failures_.push_back(what);
  }
  const std::vector<std::string>& failures() const { return failures_; }

 private:
  std::vector<std::string> failures_;
};

struct Scenario {
  std::string name;                // the case is Tools.<name>
  std::string clause;              // a clause id of suites/clauses.json
  std::vector<std::string> needs;  // operations the tool must support (else SKIP)
  StartState start = StartState::kMissing;
  std::function<void(Side&)> body;
  std::function<void(const TraceView&, Expect&)> expect;
};

const std::vector<Scenario>& AllScenarios();
const Scenario* FindScenario(const std::string& name);

// The differences between two traces, one line each ("step 3 \"add A\": state.entries.A.netns:
// reference \"ns1\" | tool \"not a netns\""); "detail" fields are context, never compared.
std::vector<std::string> CompareTraces(const nlohmann::json& reference, const nlohmann::json& tool);

}  // namespace conform::toolconf
