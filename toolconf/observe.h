// The observable state of named network namespaces, as a scenario compares it between a tool
// and the reference: the run folder's entries, their mounts (nsfs bind mounts, the run folder's
// propagation), which netns each name refers to, the links inside, and the caller's nsids.
// Identities are labelled relatively ("caller", "ns1", "ns2" in order of first sight), so that
// two runs in different namespaces compare equal when they have the same shape.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "fixtures/fd.h"

namespace conform::toolconf {

// Gives each netns seen a stable label within one run.
class Labeler {
 public:
  explicit Labeler(int caller_netns_fd);
  // The label of the netns an fd refers to ("caller", "ns1", ...); "not a netns" otherwise.
  std::string Label(int fd);
  // The label of a netns by its inode as printed in "net:[INO]"; nullopt when never seen.
  std::optional<std::string> LabelOfInode(ino_t ino) const;
  int caller_fd() const { return caller_fd_; }

 private:
  int caller_fd_;
  std::map<std::string, std::string> labels_;  // identity key -> label
  std::map<ino_t, std::string> by_inode_;
  int next_ = 1;
};

struct MountEntry {
  std::string mount_point;  // unescaped
  std::string fstype;
  std::string propagation;  // "shared", "slave", "private"
};
// This process's mount table (/proc/self/mountinfo), in order.
std::vector<MountEntry> ReadMounts();

// The run folder and every entry in it (see file comment). Never throws: what cannot be
// observed is recorded as such.
nlohmann::json ObserveRunDir(Labeler& labels, const std::string& run_dir);

// The netns a process is in, labelled; "gone" when the process is gone.
std::string ProcessNetns(Labeler& labels, pid_t pid);
// Link names inside the netns of fd, sorted; {"<error>"} when it cannot be asked.
std::vector<std::string> LinkNames(int netns_fd);

// What another mount namespace (held by mntns_fd) sees at path: "nsfs mount", "file", "absent".
std::string SeenFromMountNamespace(int mntns_fd, const std::string& path);

// "mount_point fstype" of every mount, for "did exec leave the caller's mounts alone".
std::vector<std::string> MountSummary();

}  // namespace conform::toolconf
