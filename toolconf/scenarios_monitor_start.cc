// Tool scenarios of `ip netns monitor`, of concurrent adds, and of each starting state of the run
// folder.
#include <unistd.h>

#include <algorithm>
#include <map>
#include <set>

#include "toolconf/scenario_parts.h"

namespace conform::toolconf::scenario_parts {

void AddMonitorStartScenarios(std::vector<Scenario>& s) {
  // --- monitor -----------------------------------------------------------------------------
  s.push_back({"MonitorReportsAddAndDelete",
               "ipnetns8.monitor.prints-add-and-delete",
               {"add", "del", "monitor"},
               StartState::kMissing,
               [](Side& side) {
                 side.StartBackground("monitor", Bindings{});
                 side.WaitBackgroundReady();
                 side.Op("add A", "add", Name("A"));
                 side.WaitBackgroundLine("add A");
                 side.Op("del A", "del", Name("A"));
                 side.WaitBackgroundLine("delete A");
                 side.StopBackground("monitor printed");
               },
               [](const TraceView& t, Expect& e) {
                 e.That(t.Observed("background tool waits for events") == "ready",
                        "the monitor starts waiting");
                 e.That(t.Observed("monitor printed") == json{"add A", "delete A"},
                        "it prints exactly \"add A\" then \"delete A\"");
               }});
  s.push_back({"MonitorIgnoresPlainFiles",
               "ipnetns8.monitor.prints-add-and-delete",
               {"add", "monitor"},
               StartState::kMissing,
               [](Side& side) {
                 side.StartBackground("monitor", Bindings{});
                 side.WaitBackgroundReady();
                 side.MakeJunkFile("junk");
                 // Events arrive in order: once "add B" is out, "junk" had its chance.
                 side.Op("add B", "add", Name("B"));
                 side.WaitBackgroundLine("add B");
                 side.StopBackground("monitor printed");
               },
               [](const TraceView& t, Expect& e) {
                 e.That(t.Observed("monitor printed") == json{"add B"},
                        "it reports the name B only, not a plain file that is no netns name");
               }});

  // --- concurrency -------------------------------------------------------------------------
  s.push_back(
      {"ConcurrentAddsAndDels",
       "ipnetns8.add.creates-named-netns",
       {"add", "del"},
       StartState::kMissing,
       [](Side& side) {
         std::vector<std::pair<std::string, Bindings>> adds, mixed;
         auto n = [](char p, int i) {
           return std::string(1, p) + (i < 10 ? "0" : "") + std::to_string(i);
         };
         for (int i = 0; i < 20; ++i) adds.emplace_back("add", Name(n('n', i)));
         side.Concurrently("20 concurrent adds", adds);
         for (int i = 0; i < 10; ++i) {
           mixed.emplace_back("del", Name(n('n', i)));
           mixed.emplace_back("add", Name(n('m', i)));
         }
         side.Concurrently("10 dels and 10 adds at once", mixed);
       },
       [](const TraceView& t, Expect& e) {
         e.That(At(t.Step("20 concurrent adds"), "exits") == json{{"0", 20}}, "all 20 adds exit 0");
         e.That(At(t.Step("10 dels and 10 adds at once"), "exits") == json{{"0", 20}},
                "all 20 dels and adds exit 0");
         const auto& entries = t.Entries("10 dels and 10 adds at once");
         std::vector<std::string> expected;
         for (int i = 0; i < 10; ++i) expected.push_back("m0" + std::to_string(i));
         for (int i = 10; i < 20; ++i) expected.push_back("n" + std::to_string(i));
         e.That(Keys(entries) == expected, "exactly m00-m09 and n10-n19 remain");
         std::set<std::string> netns;
         bool all_named = true;
         for (const auto& [name, entry] : entries.items()) {
           all_named = all_named && IsNamedNetns(entry);
           if (entry.contains("netns")) netns.insert(entry["netns"].get<std::string>());
         }
         e.That(all_named, "each is one nsfs mount of a netns");
         e.That(netns.size() == entries.size(), "each names a netns of its own");
         e.That(At(At(t.Step("10 dels and 10 adds at once"), "state"), "run_dir_mounts") == 1,
                "one mount on the run folder");
       }});

  // --- starting states of the run folder ---------------------------------------------------
  const auto start_expect = [](const TraceView& t, Expect& e) {
    const auto& state = At(t.Step("add A"), "state");
    e.That(t.Exit("add A") == "0" && IsNamedNetns(t.Entry("add A", "A")), "add A works");
    e.That(At(state, "run_dir") == "mount point, shared", "the run folder ends up shared");
    e.That(At(state, "run_dir_mounts") == 1, "with exactly one mount on it");
  };
  const auto start_body = [](Side& side) { side.Op("add A", "add", Name("A")); };
  s.push_back({"StartFromMissingRunDir",
               "sem.B8.1.add-bind-mounts-nsfs",
               {"add"},
               StartState::kMissing,
               start_body,
               start_expect});
  s.push_back({"StartFromUnmountedRunDir",
               "sem.B8.1.add-bind-mounts-nsfs",
               {"add"},
               StartState::kUnmounted,
               start_body,
               start_expect});
  s.push_back({"StartFromSharedRunDir",
               "sem.B8.1.add-bind-mounts-nsfs",
               {"add"},
               StartState::kShared,
               start_body,
               start_expect});
}

}  // namespace conform::toolconf::scenario_parts
