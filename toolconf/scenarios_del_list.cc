// Tool scenarios of `ip netns del` and `ip netns list`.
#include <unistd.h>

#include <algorithm>
#include <map>
#include <set>

#include "toolconf/scenario_parts.h"

namespace conform::toolconf::scenario_parts {

void AddDelListScenarios(std::vector<Scenario>& s) {
  // --- del ---------------------------------------------------------------------------------
  s.push_back({"DelRemovesName",
               "ipnetns8.del.umounts-and-removes",
               {"add", "del"},
               StartState::kMissing,
               [](Side& side) {
                 side.Op("add A", "add", Name("A"));
                 side.Op("del A", "del", Name("A"));
               },
               [](const TraceView& t, Expect& e) {
                 e.That(t.Exit("del A") == "0", "del A exits 0");
                 e.That(t.Entries("del A").empty(), "no entry (file or mount) is left");
               }});
  s.push_back({"DelLastUserFreesNetns",
               "ipnetns8.del.last-user-frees-netns",
               {"add", "del"},
               StartState::kMissing,
               [](Side& side) {
                 side.Op("add A", "add", Name("A"));
                 side.WatchFree("A");
                 side.Op("del A", "del", Name("A"));
                 side.WaitFreed("A");
               },
               [](const TraceView& t, Expect& e) {
                 e.That(t.Observed("netns of A freed?") == "freed (RTM_DELNSID)",
                        "the netns is freed once its name, the last user, is gone");
               }});
  s.push_back({"DelWhileProcessInside",
               "ipnetns8.del.persists-while-users",
               {"add", "del"},
               StartState::kMissing,
               [](Side& side) {
                 side.Op("add A", "add", Name("A"));
                 side.AddMarker("A", "mk0");
                 const auto holder = side.StartHolder("A");
                 side.WatchFree("A");
                 side.Op("del A", "del", Name("A"));
                 side.ObserveHolder(holder);
                 side.StopHolder(holder);
                 side.WaitFreed("A");
               },
               [](const TraceView& t, Expect& e) {
                 e.That(t.Exit("del A") == "0" && t.Entries("del A").empty(),
                        "del succeeds and removes the name");
                 const auto& held = t.Observed("holder1's netns");
                 e.That(held.is_object() &&
                            At(held, "netns") == At(t.Entry("add A", "A"), "netns") &&
                            At(held, "links") == json{"lo", "mk0", "mk0p"},
                        "the netns and its devices live on while a process is inside");
                 e.That(t.Observed("netns of A freed?") == "freed (RTM_DELNSID)",
                        "the netns is freed when that process exits");
               }});
  s.push_back({"DelMissingNameFails",
               "sem.B8.2.del-missing-name-fails",
               {"del"},
               StartState::kUnmounted,
               [](Side& side) { side.Op("del NOPE", "del", Name("NOPE")); },
               [](const TraceView& t, Expect& e) {
                 e.That(Refused(t, "del NOPE"), "del of a missing name fails with a message");
               }});
  s.push_back({"DelAllRemovesEveryName",
               "ipnetns8.del.all-removes-every-name",
               {"add", "del-all"},
               StartState::kMissing,
               [](Side& side) {
                 for (const char* n : {"A", "B", "C"})
                   side.Op(std::string("add ") + n, "add", Name(n));
                 side.Op("del -all", "del-all", Bindings{});
               },
               [](const TraceView& t, Expect& e) {
                 e.That(Keys(t.Entries("add C")).size() == 3, "three names before");
                 e.That(t.Exit("del -all") == "0" && t.Entries("del -all").empty(),
                        "-all del removes every name");
               }});

  // --- list --------------------------------------------------------------------------------
  s.push_back({"ListShowsNames",
               "ipnetns8.list.shows-named-netns",
               {"add", "list"},
               StartState::kMissing,
               [](Side& side) {
                 side.Op("add A", "add", Name("A"));
                 side.Op("add B", "add", Name("B"));
                 side.Op("list", "list", Bindings{}, Output::kNames);
               },
               [](const TraceView& t, Expect& e) {
                 e.That(t.Exit("list") == "0", "list exits 0");
                 e.That(At(t.Step("list"), "output") == json{"A", "B"}, "list shows A and B");
               }});
  s.push_back({"ListWithMissingRunDir",
               "ipnetns8.list.shows-named-netns",
               {"list"},
               StartState::kMissing,
               [](Side& side) { side.Op("list", "list", Bindings{}, Output::kNames); },
               [](const TraceView& t, Expect& e) {
                 e.That(t.Exit("list") == "0", "list exits 0 without a run folder");
                 e.That(At(t.Step("list"), "output") == json::array(), "and shows nothing");
                 e.That(At(t.Step("list"), "stderr_reported") == false, "and reports no error");
               }});
}

}  // namespace conform::toolconf::scenario_parts
