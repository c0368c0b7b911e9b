// One side of a differential scenario: one tool driven through its profile in a fresh private
// world (its own mount and network namespaces, an empty /run, its own /etc/netns), with the
// observable state recorded after every step. The reference and the tool under test each get a
// Side; their traces are then compared step by step.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fixtures/fd.h"
#include "fixtures/netlink.h"
#include "toolconf/observe.h"
#include "toolconf/process.h"
#include "toolconf/profile.h"

namespace conform::toolconf {

// How a step's stdout becomes comparable.
enum class Output {
  kIgnore,  // not compared (still kept in the detail)
  kNames,   // first word of every non-empty line, sorted (list, identify)
  kPids,    // pids mapped to the scenario's holder labels, sorted
  kListId,  // "nsid N" or "nsid N NAME", sorted
  kLines,   // non-empty lines in order, "net:[INO]" replaced by the netns label
  kSorted,  // non-empty lines sorted
};

// The run folder as a scenario starts from it.
enum class StartState { kMissing, kUnmounted, kShared };

class Side {
 public:
  Side(const Profile& tool, std::string self_path);
  ~Side();

  // Makes the private world; call once, in a single-threaded process. Returns "" or the error.
  std::string Enter(StartState start);

  // Runs one operation through the profile, then records the state. `exact` keeps the exit
  // status as it is (exec returns its command's); otherwise nonzero reads "error".
  nlohmann::json& Op(const std::string& label, const std::string& op, const Bindings& b,
                     Output output = Output::kIgnore, bool exact = false);
  // Every (operation, binding) started at once and waited for together; records a count of
  // normalised exits and then the state.
  nlohmann::json& Concurrently(const std::string& label,
                               const std::vector<std::pair<std::string, Bindings>>& each);
  // The netns a holder is in and the links there, seen through the holder itself.
  nlohmann::json& ObserveHolder(const std::string& label);
  // Records an observation the harness made (not a tool step).
  nlohmann::json& Note(const std::string& label, nlohmann::json value);
  // Records the state without running anything.
  nlohmann::json& Observe(const std::string& label);

  // Harness actions (they change the world without the tool):
  // a process that lives in the netns NAME until StopHolder; returns its label "holderN".
  std::string StartHolder(const std::string& name);
  void StopHolder(const std::string& label);
  pid_t HolderPid(const std::string& label) const;
  // A veth pair (both ends) inside the netns NAME, as a marker whose fate can be followed.
  void AddMarker(const std::string& name, const std::string& link);
  // Gives NAME an nsid in the caller and subscribes to RTM_DELNSID, so that WaitFreed can tell
  // when the netns is freed. Returns false (and notes why) when NAME cannot be opened.
  bool WatchFree(const std::string& name);
  // Waits up to 5 s for that netns to be freed; records "freed" or "alive after 5 s".
  void WaitFreed(const std::string& label);
  // A process in a new mount namespace made now (a copy of the current one).
  void StartMountObserver();
  std::string SeenByMountObserver(const std::string& name);
  // A file written at /etc/netns/NAME/FILE (over /etc/FILE inside exec).
  void WriteEtcNetns(const std::string& name, const std::string& file, const std::string& text);
  void MakeJunkFile(const std::string& name);

  // Background operations (monitor).
  void StartBackground(const std::string& op, const Bindings& b);
  // Waits until the background tool is blocked waiting for events (its setup is done).
  bool WaitBackgroundReady();
  // Waits up to 5 s for a line in the background tool's output; records whether it came.
  bool WaitBackgroundLine(const std::string& line);
  // Stops it and records its normalised output lines.
  nlohmann::json& StopBackground(const std::string& label);

  Labeler& labels() { return *labels_; }
  nlohmann::json TakeTrace() { return std::move(trace_); }
  const Profile& tool() const { return tool_; }

 private:
  // Runs the op's steps until one fails; `shown` (if given) gets the argv of each step run.
  Outcome RunSteps(const std::string& op, const Bindings& b, std::string* shown = nullptr);
  std::string NormaliseExit(const Outcome& o, bool exact) const;
  nlohmann::json NormaliseOutput(const std::string& out, Output kind);
  Bindings Complete(Bindings b) const;

  const Profile& tool_;
  std::string self_;
  FileDescriptor caller_;
  std::unique_ptr<Labeler> labels_;
  nlohmann::json trace_ = nlohmann::json::array();
  struct Holder {
    pid_t pid;
    FileDescriptor release;  // closing it lets the holder exit
  };
  std::map<std::string, Holder> holders_;
  int next_holder_ = 1;
  struct FreeWatch {
    std::unique_ptr<EventWatcher> watcher;
    int nsid = -1;
  };
  std::map<std::string, FreeWatch> free_watches_;
  pid_t mount_observer_ = -1;
  FileDescriptor mount_observer_release_, mount_observer_ns_;
  Background background_;
  std::string background_argv_;
};

}  // namespace conform::toolconf
