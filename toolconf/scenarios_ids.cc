// Tool scenarios of `ip netns identify`, `pids`, `attach`, `set` and `list-id`.
#include <unistd.h>

#include <algorithm>
#include <map>
#include <set>

#include "toolconf/scenario_parts.h"

namespace conform::toolconf::scenario_parts {

void AddIdScenarios(std::vector<Scenario>& s) {
  // --- identify, pids, attach --------------------------------------------------------------
  s.push_back({"IdentifyNamesProcessNetns",
               "ipnetns8.identify.names-of-process",
               {"add", "identify"},
               StartState::kMissing,
               [](Side& side) {
                 side.Op("add A", "add", Name("A"));
                 const auto holder = side.StartHolder("A");
                 side.Op("identify holder1", "identify", Pid(side.HolderPid(holder)),
                         Output::kNames);
                 side.Op("identify the caller", "identify", Pid(getpid()), Output::kNames);
               },
               [](const TraceView& t, Expect& e) {
                 e.That(t.Exit("identify holder1") == "0" &&
                            At(t.Step("identify holder1"), "output") == json{"A"},
                        "identify names A for a process in A");
                 e.That(t.Exit("identify the caller") == "0" &&
                            At(t.Step("identify the caller"), "output") == json::array(),
                        "and nothing for a process in an unnamed netns");
               }});
  s.push_back({"AttachNamesProcessNetns",
               "ipnetns8.identify.names-of-process",
               {"add", "attach", "identify"},
               StartState::kMissing,
               [](Side& side) {
                 side.Op("add A", "add", Name("A"));
                 const auto holder = side.StartHolder("A");
                 Bindings b = Pid(side.HolderPid(holder));
                 b.name = "B";
                 side.Op("attach B holder1", "attach", b);
                 side.Op("identify holder1", "identify", Pid(side.HolderPid(holder)),
                         Output::kNames);
               },
               [](const TraceView& t, Expect& e) {
                 e.That(t.Exit("attach B holder1") == "0", "attach exits 0");
                 e.That(IsNamedNetns(t.Entry("attach B holder1", "B")) &&
                            At(t.Entry("attach B holder1", "B"), "netns") ==
                                At(t.Entry("add A", "A"), "netns"),
                        "B names the holder's netns, the one A names");
                 e.That(At(t.Step("identify holder1"), "output") == json{"A", "B"},
                        "identify lists both names");
               }});
  s.push_back({"PidsListsProcesses",
               "ipnetns8.pids.lists-processes",
               {"add", "pids"},
               StartState::kMissing,
               [](Side& side) {
                 side.Op("add A", "add", Name("A"));
                 side.StartHolder("A");
                 side.StartHolder("A");
                 side.Op("pids A", "pids", Name("A"), Output::kPids);
               },
               [](const TraceView& t, Expect& e) {
                 e.That(t.Exit("pids A") == "0", "pids exits 0");
                 e.That(At(t.Step("pids A"), "output") == json{"holder1", "holder2"},
                        "pids lists exactly the two processes in A");
               }});
  s.push_back({"PidsMissingNameFails",
               "sem.B8.5.pids-missing-name-fails",
               {"pids"},
               StartState::kUnmounted,
               [](Side& side) { side.Op("pids NOPE", "pids", Name("NOPE"), Output::kPids); },
               [](const TraceView& t, Expect& e) {
                 e.That(Refused(t, "pids NOPE"), "pids of a missing name fails with a message");
               }});

  // --- set, list-id ------------------------------------------------------------------------
  s.push_back({"SetAssignsNsid",
               "ipnetns8.set.assigns-nsid",
               {"add", "set"},
               StartState::kMissing,
               [](Side& side) {
                 side.Op("add A", "add", Name("A"));
                 side.Op("set A 7", "set", NameNsid("A", "7"));
               },
               [](const TraceView& t, Expect& e) {
                 e.That(t.Exit("set A 7") == "0", "set exits 0");
                 e.That(At(t.Entry("set A 7", "A"), "nsid") == 7,
                        "RTM_GETNSID in the caller answers 7 for A");
               }});
  s.push_back({"SetCannotChange",
               "ipnetns8.set.cannot-change",
               {"add", "set"},
               StartState::kMissing,
               [](Side& side) {
                 side.Op("add A", "add", Name("A"));
                 side.Op("set A 7", "set", NameNsid("A", "7"));
                 side.Op("set A 8", "set", NameNsid("A", "8"));
               },
               [](const TraceView& t, Expect& e) {
                 e.That(Refused(t, "set A 8"), "a second set fails with a message");
                 e.That(At(t.Entry("set A 8", "A"), "nsid") == 7, "the nsid stays 7");
               }});
  s.push_back({"SetAutoAssigns",
               "sem.B8.7.set-auto-and-errors",
               {"add", "set"},
               StartState::kMissing,
               [](Side& side) {
                 side.Op("add A", "add", Name("A"));
                 side.Op("set A auto", "set", NameNsid("A", "auto"));
               },
               [](const TraceView& t, Expect& e) {
                 e.That(t.Exit("set A auto") == "0", "set auto exits 0");
                 const auto nsid = At(t.Entry("set A auto", "A"), "nsid");
                 e.That(nsid.is_number_integer() && nsid.get<int>() >= 0,
                        "the kernel picked an nsid");
               }});
  s.push_back({"ListIdShowsNsids",
               "ipnetns8.list-id.shows-nsids-and-names",
               {"add", "set", "list-id"},
               StartState::kMissing,
               [](Side& side) {
                 side.Op("add A", "add", Name("A"));
                 side.Op("add B", "add", Name("B"));
                 side.Op("set A 3", "set", NameNsid("A", "3"));
                 side.Op("list-id", "list-id", Bindings{}, Output::kListId);
               },
               [](const TraceView& t, Expect& e) {
                 e.That(t.Exit("list-id") == "0", "list-id exits 0");
                 e.That(At(t.Step("list-id"), "output") == json{"nsid 3 A"},
                        "list-id shows nsid 3 named A, and B has none");
               }});
}

}  // namespace conform::toolconf::scenario_parts
