#include "toolconf/scenarios.h"

#include <unistd.h>

#include <algorithm>
#include <map>
#include <set>

namespace conform::toolconf {
namespace {

using json = nlohmann::json;

const json kNull = nullptr;

// A member of an object, null when j is no object or lacks it (const operator[] would be UB).
const json& At(const json& j, const std::string& key) {
  return j.is_object() && j.contains(key) ? j[key] : kNull;
}

Bindings Name(const std::string& name) {
  Bindings b;
  b.name = name;
  return b;
}

Bindings NameCmd(const std::string& name, std::vector<std::string> cmd) {
  Bindings b;
  b.name = name;
  b.cmd = std::move(cmd);
  return b;
}

Bindings Pid(pid_t pid) {
  Bindings b;
  b.pid = std::to_string(pid);
  return b;
}

Bindings NameNsid(const std::string& name, const std::string& nsid) {
  Bindings b;
  b.name = name;
  b.nsid = nsid;
  return b;
}

std::string Text(const json& j) { return j.is_string() ? j.get<std::string>() : j.dump(); }

// The usual shape of a name made by add: one nsfs mount, a netns other than the caller's.
bool IsNamedNetns(const json& entry) {
  return entry.is_object() && entry.value("nsfs_mounts", 0) == 1 && entry.contains("netns") &&
         entry["netns"] != "not a netns" && entry["netns"] != "caller";
}

bool Refused(const TraceView& t, const std::string& label) {
  return t.Exit(label) == "error" && At(t.Step(label), "stderr_reported") == true;
}

std::vector<std::string> Keys(const json& object) {
  std::vector<std::string> keys;
  if (object.is_object())
    for (const auto& [k, v] : object.items()) keys.push_back(k);
  return keys;
}

const std::string kShellName = "x y;$(touch pwned)|&`touch pwned2`'\"*<>";

std::vector<Scenario> Build() {
  std::vector<Scenario> s;

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

  // --- exec --------------------------------------------------------------------------------
  s.push_back({"ExecRunsInNamedNetns",
               "ipnetns8.exec.runs-in-named-netns",
               {"add", "exec"},
               StartState::kMissing,
               [](Side& side) {
                 side.Op("add A", "add", Name("A"));
                 side.Op("exec A readlink /proc/self/ns/net", "exec",
                         NameCmd("A", {"readlink", "/proc/self/ns/net"}), Output::kLines, true);
               },
               [](const TraceView& t, Expect& e) {
                 const auto& step = t.Step("exec A readlink /proc/self/ns/net");
                 e.That(step["exit"] == "0", "exec exits 0");
                 e.That(step["output"] == json{"netns " + Text(At(t.Entry("add A", "A"), "netns"))},
                        "the command runs in the netns A names");
               }});
  s.push_back({"ExecSeesNetnsSysfs",
               "sem.B8.3.exec-mounts-netns-sysfs",
               {"add", "exec"},
               StartState::kMissing,
               [](Side& side) {
                 side.Op("add A", "add", Name("A"));
                 side.AddMarker("A", "mk0");
                 side.Op("exec A ls /sys/class/net", "exec",
                         NameCmd("A", {"ls", "-1", "/sys/class/net"}), Output::kSorted, true);
               },
               [](const TraceView& t, Expect& e) {
                 e.That(
                     At(t.Step("exec A ls /sys/class/net"), "output") == json{"lo", "mk0", "mk0p"},
                     "/sys/class/net shows the devices of A");
               }});
  s.push_back({"ExecBindsEtcNetns",
               "ipnetns8.exec.bind-mounts-etc-netns",
               {"add", "exec"},
               StartState::kMissing,
               [](Side& side) {
                 side.Op("add A", "add", Name("A"));
                 side.WriteEtcNetns("A", "hostname", "netns-conform-A\n");
                 side.Op("exec A cat /etc/hostname", "exec", NameCmd("A", {"cat", "/etc/hostname"}),
                         Output::kLines, true);
               },
               [](const TraceView& t, Expect& e) {
                 e.That(At(t.Step("exec A cat /etc/hostname"), "output") == json{"netns-conform-A"},
                        "/etc/netns/A/hostname is seen over /etc/hostname");
               }});
  s.push_back({"ExecReturnsCommandStatus",
               "sem.B8.3.exec-exit-status",
               {"add", "exec"},
               StartState::kMissing,
               [](Side& side) {
                 side.Op("add A", "add", Name("A"));
                 side.Op("exec A true", "exec", NameCmd("A", {"true"}), Output::kIgnore, true);
                 side.Op("exec A false", "exec", NameCmd("A", {"false"}), Output::kIgnore, true);
                 side.Op("exec A sh -c 'exit 7'", "exec", NameCmd("A", {"sh", "-c", "exit 7"}),
                         Output::kIgnore, true);
               },
               [](const TraceView& t, Expect& e) {
                 e.That(t.Exit("exec A true") == "0", "true gives 0");
                 e.That(t.Exit("exec A false") == "exit 1", "false gives 1");
                 e.That(t.Exit("exec A sh -c 'exit 7'") == "exit 7", "exit 7 gives 7");
               }});
  s.push_back({"ExecLeavesCallerMountsUntouched",
               "ipnetns8.exec.other-processes-unaffected",
               {"add", "exec"},
               StartState::kMissing,
               [](Side& side) {
                 side.Op("add A", "add", Name("A"));
                 const auto before = MountSummary();
                 side.Op("exec A true", "exec", NameCmd("A", {"true"}), Output::kIgnore, true);
                 side.Note("caller's mounts unchanged by exec", MountSummary() == before);
               },
               [](const TraceView& t, Expect& e) {
                 e.That(t.Observed("caller's mounts unchanged by exec") == true,
                        "exec makes its mounts in a mount namespace of its own");
               }});
  s.push_back({"ExecMissingNetnsFails",
               "ipnetns8.exec.runs-in-named-netns",
               {"exec"},
               StartState::kUnmounted,
               [](Side& side) { side.Op("exec NOPE true", "exec", NameCmd("NOPE", {"true"})); },
               [](const TraceView& t, Expect& e) {
                 e.That(Refused(t, "exec NOPE true"),
                        "exec of a missing name fails with a message");
               }});
  s.push_back({"ExecMissingCommandFails",
               "ipnetns8.exec.runs-in-named-netns",
               {"add", "exec"},
               StartState::kMissing,
               [](Side& side) {
                 side.Op("add A", "add", Name("A"));
                 side.Op("exec A /nonexistent/command", "exec",
                         NameCmd("A", {"/nonexistent/netns-conform-command"}));
               },
               [](const TraceView& t, Expect& e) {
                 e.That(Refused(t, "exec A /nonexistent/command"),
                        "exec of a missing command fails with a message");
                 e.That(IsNamedNetns(t.Entry("exec A /nonexistent/command", "A")),
                        "and leaves A as it was");
               }});

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
