// What the nsfs suites (nsfs_*_test.cc) share: stat and open that throw, the death watch that
// tells when a netns has been torn down, and a process holding namespaces of its own.
//
// Every death is awaited by RTM_DELLINK of a veth end in a living observer netns, with a deadline.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>

#include "fixtures/fd.h"
#include "fixtures/holder.h"
#include "fixtures/netlink.h"

namespace conform::nsfs {

inline constexpr auto kTeardownDeadline = std::chrono::seconds(10);

struct stat Fstat(int fd);
struct stat Stat(const std::string& path);
FileDescriptor OpenPath(const std::string& path);

// Tells when a netns has been torn down: a veth pair with one end in it and the other in a
// long-lived observer, whose RTM_DELLINK (watched from before the last reference goes) marks
// the device teardown of the dying netns (SEMANTICS.md B9.2). Only the caller's fds hold `ns`.
class DeathWatch {
 public:
  DeathWatch(int observer_fd, int ns_fd);
  bool Wait() { return watcher_.WaitLinkDeleted(ifindex_, kTeardownDeadline); }

 private:
  EventWatcher watcher_;
  int ifindex_ = 0;
};

// A process in new namespaces of its own (CLONE_NEWNET plus `extra`), with hostname `hostname`
// when it has a UTS namespace, running as `uid` when given, until released.
class NsHolder {
 public:
  // Throws SystemError when the process could not get there.
  NsHolder(int extra_flags, const std::string& hostname, std::optional<uid_t> uid = std::nullopt);

  pid_t pid() const { return holder_.pid(); }
  // Lets it exit and reaps it.
  void Release() { holder_.Release(); }

 private:
  HolderProcess holder_;
};

}  // namespace conform::nsfs
