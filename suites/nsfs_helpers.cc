#include "suites/nsfs_helpers.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>

#include "fixtures/child.h"
#include "fixtures/error.h"

namespace conform::nsfs {

struct stat Fstat(int fd) {
  struct stat st {};
  CheckSyscall(fstat(fd, &st), "fstat");
  return st;
}

struct stat Stat(const std::string& path) {
  struct stat st {};
  CheckSyscall(stat(path.c_str(), &st), "stat " + path);
  return st;
}

FileDescriptor OpenPath(const std::string& path) {
  FileDescriptor fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throw SystemError("open " + path, errno);
  return fd;
}

DeathWatch::DeathWatch(int observer_fd, int ns_fd) : watcher_(observer_fd, {RTNLGRP_LINK}) {
  static int counter = 0;
  const std::string name = "dw" + std::to_string(counter++);
  RouteClient(ns_fd).CreateVeth("dw", name, observer_fd);
  ifindex_ = RouteClient(observer_fd).GetLink(name).value().ifindex;
}

NsHolder::NsHolder(int extra_flags, const std::string& hostname, std::optional<uid_t> uid)
    : holder_([&] {
        int err = 0;
        if (uid &&
            (setgroups(0, nullptr) != 0 || setresgid(kNogroupGid, kNogroupGid, kNogroupGid) ||
             setresuid(*uid, *uid, *uid) != 0))
          err = errno;
        else if (unshare(CLONE_NEWNET | extra_flags) != 0 ||
                 ((extra_flags & CLONE_NEWUTS) &&
                  sethostname(hostname.data(), hostname.size()) != 0))
          err = errno;
        return HolderSetup{.err = err, .message = ""};
      }) {
  holder_.CheckSetup("holder unshare");
}

}  // namespace conform::nsfs
