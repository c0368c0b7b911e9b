// Tool scenarios of `ip netns exec`: the netns, sysfs and /etc/netns the command sees, its exit
// status, the caller left alone.
#include <unistd.h>

#include <algorithm>
#include <map>
#include <set>

#include "toolconf/scenario_parts.h"

namespace conform::toolconf::scenario_parts {

void AddExecScenarios(std::vector<Scenario>& s) {
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
}

}  // namespace conform::toolconf::scenario_parts
