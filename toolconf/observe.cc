#include "toolconf/observe.h"

#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "fixtures/error.h"
#include "fixtures/mountinfo.h"
#include "fixtures/netlink.h"
#include "fixtures/netns.h"

namespace conform::toolconf {
namespace {

constexpr long kNsfsMagic = 0x6e736673;

std::string IdentityKey(int fd) {
  const auto identity = IdentifyNetns(fd);
  if (identity.id) return "id:" + std::to_string(*identity.id);
  return "ino:" + std::to_string(identity.dev) + ":" + std::to_string(identity.ino);
}

bool IsNetnsFd(int fd) { return ioctl(fd, NS_GET_NSTYPE) == CLONE_NEWNET; }

}  // namespace

Labeler::Labeler(int caller_netns_fd) : caller_fd_(caller_netns_fd) {
  labels_[IdentityKey(caller_netns_fd)] = "caller";
  struct stat st {};
  if (fstat(caller_netns_fd, &st) == 0) by_inode_[st.st_ino] = "caller";
}

std::string Labeler::Label(int fd) {
  if (fd < 0 || !IsNetnsFd(fd)) return "not a netns";
  const std::string key = IdentityKey(fd);
  auto [it, inserted] = labels_.try_emplace(key, "");
  if (inserted) it->second = "ns" + std::to_string(next_++);
  struct stat st {};
  if (fstat(fd, &st) == 0) by_inode_[st.st_ino] = it->second;
  return it->second;
}

std::optional<std::string> Labeler::LabelOfInode(ino_t ino) const {
  auto it = by_inode_.find(ino);
  if (it == by_inode_.end()) return std::nullopt;
  return it->second;
}

std::vector<MountEntry> ReadMounts() {
  std::vector<MountEntry> mounts;
  for (const MountInfoEntry& entry : ReadMountInfo())
    mounts.push_back({entry.mount_point, entry.fstype, entry.Propagation()});
  return mounts;
}

std::vector<std::string> LinkNames(int netns_fd) {
  try {
    RouteClient client(netns_fd);
    std::vector<std::string> names;
    for (const auto& link : client.DumpLinks()) names.push_back(link.name);
    std::sort(names.begin(), names.end());
    return names;
  } catch (const std::exception& e) {
    return {std::string("<cannot dump links: ") + e.what() + ">"};
  }
}

nlohmann::json ObserveRunDir(Labeler& labels, const std::string& run_dir) {
  nlohmann::json state = nlohmann::json::object();
  struct stat st {};
  const auto mounts = ReadMounts();
  int dir_mounts = 0;
  std::string dir_propagation;
  for (const auto& m : mounts) {
    if (m.mount_point == run_dir) {
      ++dir_mounts;
      dir_propagation = m.propagation;  // the last one is the one on top
    }
  }
  if (stat(run_dir.c_str(), &st) != 0) {
    state["run_dir"] = "absent";
    state["entries"] = nlohmann::json::object();
    return state;
  }
  state["run_dir"] = dir_mounts == 0 ? std::string("directory, not a mount point")
                                     : "mount point, " + dir_propagation;
  state["run_dir_mounts"] = dir_mounts;

  std::unique_ptr<RouteClient> caller;
  try {
    caller = std::make_unique<RouteClient>(labels.caller_fd());
  } catch (const std::exception&) {
  }
  nlohmann::json entries = nlohmann::json::object();
  std::error_code ec;
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(run_dir, ec))
    names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  for (const auto& name : names) {
    const std::string path = run_dir + "/" + name;
    nlohmann::json e;
    int nsfs_mounts = 0, other_mounts = 0;
    for (const auto& m : mounts) {
      if (m.mount_point != path) continue;
      (m.fstype == "nsfs" ? nsfs_mounts : other_mounts)++;
    }
    e["nsfs_mounts"] = nsfs_mounts;
    if (other_mounts) e["other_mounts"] = other_mounts;
    struct stat est {};
    lstat(path.c_str(), &est);
    e["type"] = S_ISDIR(est.st_mode) ? "directory" : S_ISREG(est.st_mode) ? "file" : "other";
    FileDescriptor fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
    const std::string label = fd ? labels.Label(fd.get()) : "not a netns";
    e["netns"] = label;
    if (label != "not a netns") {
      e["links"] = LinkNames(fd.get());
      if (caller) {
        try {
          const int nsid = caller->GetNsid(fd.get());
          e["nsid"] = nsid < 0 ? nlohmann::json("none") : nlohmann::json(nsid);
        } catch (const std::exception& ex) {
          e["nsid"] = std::string("<") + ex.what() + ">";
        }
      }
    }
    entries[name] = e;
  }
  state["entries"] = entries;
  return state;
}

std::string ProcessNetns(Labeler& labels, pid_t pid) {
  FileDescriptor fd(
      open(("/proc/" + std::to_string(pid) + "/ns/net").c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return "gone";
  return labels.Label(fd.get());
}

std::string SeenFromMountNamespace(int mntns_fd, const std::string& path) {
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) return "<pipe failed>";
  const pid_t child = fork();
  if (child == 0) {
    // A forked child is single-threaded: it may enter another mount namespace.
    char answer = '?';
    struct statfs sfs {};
    struct stat st {};
    if (setns(mntns_fd, CLONE_NEWNS) != 0) {
      answer = 'E';
    } else if (stat(path.c_str(), &st) != 0) {
      answer = 'A';
    } else if (statfs(path.c_str(), &sfs) == 0 && sfs.f_type == kNsfsMagic) {
      answer = 'N';
    } else {
      answer = 'F';
    }
    (void)!write(pipefd[1], &answer, 1);
    _exit(0);
  }
  close(pipefd[1]);
  char answer = '?';
  if (child < 0 || read(pipefd[0], &answer, 1) != 1) answer = '?';
  close(pipefd[0]);
  if (child > 0) waitpid(child, nullptr, 0);
  switch (answer) {
    case 'N':
      return "nsfs mount";
    case 'A':
      return "absent";
    case 'F':
      return "file, not a netns";
    case 'E':
      return "<setns(mount ns) failed>";
    default:
      return "<could not look>";
  }
}

std::vector<std::string> MountSummary() {
  std::vector<std::string> summary;
  for (const auto& m : ReadMounts()) summary.push_back(m.mount_point + " " + m.fstype);
  return summary;
}

}  // namespace conform::toolconf
