// Tool scenarios of `ip netns add`: the named netns made, its mount, names refused or odd.
#include <unistd.h>

#include <algorithm>
#include <map>
#include <set>

#include "toolconf/scenario_parts.h"

namespace conform::toolconf::scenario_parts {

void AddAddScenarios(std::vector<Scenario>& s) {
  // --- add ---------------------------------------------------------------------------------
  s.push_back(
      {"AddCreatesNamedNetns",
       "ipnetns8.add.creates-named-netns",
       {"add"},
       StartState::kMissing,
       [](Side& side) { side.Op("add A", "add", Name("A")); },
       [](const TraceView& t, Expect& e) {
         e.That(t.Exit("add A") == "0", "add A exits 0");
         e.That(IsNamedNetns(t.Entry("add A", "A")), "A is one nsfs bind mount of a new netns");
         e.That(At(t.Entry("add A", "A"), "links") == json{"lo"}, "the new netns holds only lo");
       }});
  s.push_back({"AddNameSurvivesWithoutProcess",
               "ipnetns8.bind-mount-keeps-netns-alive",
               {"add"},
               StartState::kMissing,
               [](Side& side) {
                 side.Op("add A", "add", Name("A"));
                 side.AddMarker("A", "mk0");
                 side.Observe("later, with no process in A");
               },
               [](const TraceView& t, Expect& e) {
                 const auto& later = t.Entries("later, with no process in A");
                 e.That(later.contains("A") &&
                            At(later["A"], "netns") == At(t.Entry("add A", "A"), "netns"),
                        "A still names the same netns after add exited");
                 e.That(later.contains("A") && At(later["A"], "links") == json{"lo", "mk0", "mk0p"},
                        "devices made in A survive with no process inside");
               }});
  s.push_back({"NamedFdUsableWithSetns",
               "ipnetns8.named.fd-usable-with-setns",
               {"add"},
               StartState::kMissing,
               [](Side& side) {
                 side.Op("add A", "add", Name("A"));
                 side.StartHolder("A");
               },
               [](const TraceView& t, Expect& e) {
                 const auto& holder = t.Observed("start holder1 in A");
                 e.That(holder.is_object() &&
                            At(holder, "netns") == At(t.Entry("add A", "A"), "netns"),
                        "setns(open(/run/netns/A)) enters the netns A names");
               }});
  s.push_back({"RunDirIsSharedMount",
               "sem.B8.1.add-bind-mounts-nsfs",
               {"add"},
               StartState::kMissing,
               [](Side& side) { side.Op("add A", "add", Name("A")); },
               [](const TraceView& t, Expect& e) {
                 const auto& state = At(t.Step("add A"), "state");
                 e.That(At(state, "run_dir") == "mount point, shared",
                        "the run folder is a shared mount after add");
                 e.That(At(state, "run_dir_mounts") == 1, "exactly one mount on the run folder");
               }});
  s.push_back({"NameVisibleFromOtherMountNamespace",
               "ipnetns8.named.object-in-var-run-netns",
               {"add"},
               StartState::kMissing,
               [](Side& side) {
                 side.Op("add A", "add", Name("A"));
                 side.StartMountObserver();
                 side.Op("add B", "add", Name("B"));
                 side.SeenByMountObserver("A");
                 side.SeenByMountObserver("B");
               },
               [](const TraceView& t, Expect& e) {
                 e.That(t.Observed("the other mount namespace sees B as") == "nsfs mount",
                        "a name added later is visible (as an nsfs mount) in a mount namespace "
                        "made before: the run folder propagates");
                 e.That(t.Observed("the other mount namespace sees A as") == "nsfs mount",
                        "an earlier name is visible there too");
               }});
  s.push_back({"AddExistingNameFails",
               "sem.B8.1.add-errors",
               {"add"},
               StartState::kMissing,
               [](Side& side) {
                 side.Op("add A", "add", Name("A"));
                 side.AddMarker("A", "mk0");
                 side.Op("add A again", "add", Name("A"));
               },
               [](const TraceView& t, Expect& e) {
                 e.That(Refused(t, "add A again"), "the second add fails with a message");
                 const auto& again = t.Entry("add A again", "A");
                 e.That(
                     again.is_object() && At(again, "netns") == At(t.Entry("add A", "A"), "netns"),
                     "A still names the netns of the first add");
                 e.That(At(again, "nsfs_mounts") == 1, "no second mount stacked on A");
                 e.That(At(again, "links") == json{"lo", "mk0", "mk0p"},
                        "the existing netns keeps its devices");
               }});
  s.push_back({"AddInvalidNameRefused",
               "sem.B8.1.add-errors",
               {"add"},
               StartState::kMissing,
               [](Side& side) {
                 side.Op("add '' (empty)", "add", Name(""));
                 side.Op("add .", "add", Name("."));
                 side.Op("add ..", "add", Name(".."));
                 side.Op("add a/b", "add", Name("a/b"));
                 side.Op("add 256 characters", "add", Name(std::string(256, 'n')));
               },
               [](const TraceView& t, Expect& e) {
                 for (const char* label :
                      {"add '' (empty)", "add .", "add ..", "add a/b", "add 256 characters"}) {
                   e.That(Refused(t, label), std::string(label) + " is refused with a message");
                   e.That(t.Entries(label).empty(), std::string(label) + " leaves no entry");
                 }
               }});
  s.push_back({"AddNameWithShellMetacharacters",
               "ipnetns8.add.creates-named-netns",
               {"add", "del"},
               StartState::kMissing,
               [](Side& side) {
                 side.Op("add a name full of shell metacharacters", "add", Name(kShellName));
                 side.Note("files pwned/pwned2 made by a shell?",
                           access("pwned", F_OK) == 0 || access("pwned2", F_OK) == 0 ||
                                   access("/run/netns/pwned", F_OK) == 0
                               ? "yes"
                               : "no");
                 side.Op("del that name", "del", Name(kShellName));
               },
               [](const TraceView& t, Expect& e) {
                 const auto& entries = t.Entries("add a name full of shell metacharacters");
                 e.That(Keys(entries) == std::vector<std::string>{kShellName},
                        "exactly one entry, named exactly as given");
                 e.That(IsNamedNetns(At(entries, kShellName)),
                        "it is an nsfs mount of a new netns");
                 e.That(t.Observed("files pwned/pwned2 made by a shell?") == "no",
                        "no shell interpreted the name");
                 e.That(t.Exit("del that name") == "0" && t.Entries("del that name").empty(),
                        "del removes it");
               }});
}

}  // namespace conform::toolconf::scenario_parts
