// What the tool scenarios' definitions share (toolconf/scenarios_*.cc): step bindings, reading a
// trace's steps and entries, and the builders that add each family of scenarios to the list
// AllScenarios() returns, in this order.
#pragma once

#include <sys/types.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "toolconf/scenarios.h"

namespace conform::toolconf::scenario_parts {

using json = nlohmann::json;

inline const json kNull = nullptr;

// A member of an object, null when j is no object or lacks it (const operator[] would be UB).
inline const json& At(const json& j, const std::string& key) {
  return j.is_object() && j.contains(key) ? j[key] : kNull;
}

inline Bindings Name(const std::string& name) {
  Bindings b;
  b.name = name;
  return b;
}

inline Bindings NameCmd(const std::string& name, std::vector<std::string> cmd) {
  Bindings b;
  b.name = name;
  b.cmd = std::move(cmd);
  return b;
}

inline Bindings Pid(pid_t pid) {
  Bindings b;
  b.pid = std::to_string(pid);
  return b;
}

inline Bindings NameNsid(const std::string& name, const std::string& nsid) {
  Bindings b;
  b.name = name;
  b.nsid = nsid;
  return b;
}

inline std::string Text(const json& j) { return j.is_string() ? j.get<std::string>() : j.dump(); }

// The usual shape of a name made by add: one nsfs mount, a netns other than the caller's.
inline bool IsNamedNetns(const json& entry) {
  return entry.is_object() && entry.value("nsfs_mounts", 0) == 1 && entry.contains("netns") &&
         entry["netns"] != "not a netns" && entry["netns"] != "caller";
}

inline bool Refused(const TraceView& t, const std::string& label) {
  return t.Exit(label) == "error" && At(t.Step(label), "stderr_reported") == true;
}

inline std::vector<std::string> Keys(const json& object) {
  std::vector<std::string> keys;
  if (object.is_object())
    for (const auto& [k, v] : object.items()) keys.push_back(k);
  return keys;
}

inline const std::string kShellName = "x y;$(touch pwned)|&`touch pwned2`'\"*<>";

void AddAddScenarios(std::vector<Scenario>& s);           // add (scenarios_add.cc)
void AddDelListScenarios(std::vector<Scenario>& s);       // del, list (scenarios_del_list.cc)
void AddExecScenarios(std::vector<Scenario>& s);          // exec (scenarios_exec.cc)
void AddIdScenarios(std::vector<Scenario>& s);            // identify, pids, attach, set, list-id
void AddMonitorStartScenarios(std::vector<Scenario>& s);  // monitor, concurrency, start states

}  // namespace conform::toolconf::scenario_parts
