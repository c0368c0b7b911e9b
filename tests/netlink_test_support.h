// Shared by the netlink fixture tests (netlink_test): threads that move to a throwaway netns,
// a NetlinkError caught for checking, link names and indexes.
#pragma once

#include <fcntl.h>
#include <linux/net_namespace.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <exception>
#include <future>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "fixtures/fd.h"
#include "fixtures/netlink.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace conform {

using ::testing::AnyOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::Eq;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::UnorderedElementsAre;

using namespace std::chrono_literals;

// Teardown is asynchronous (SEMANTICS.md §9): waits are by event with this deadline.
inline constexpr auto kTeardownDeadline = 10s;

// Runs fn in a fresh thread and rethrows what it threw: the thread may change its netns freely.
template <typename Fn>
inline void RunInNewThread(Fn fn) {
  std::exception_ptr error;
  std::thread([&] {
    try {
      fn();
    } catch (...) {
      error = std::current_exception();
    }
  }).join();
  if (error) std::rethrow_exception(error);
}

inline FileDescriptor OpenThreadNetns() {
  return FileDescriptor(static_cast<int>(
      CheckSyscall(open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC), "open netns")));
}

// A throwaway netns whose only reference is the returned fd: a thread unshares, opens its netns
// file and exits (unshare(CLONE_NEWNET) affects only the calling thread, SEMANTICS.md B5.2).
inline FileDescriptor NewNetns() {
  FileDescriptor fd;
  RunInNewThread([&] {
    CheckSyscall(unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)");
    fd = OpenThreadNetns();
  });
  return fd;
}

// A thread parked in a new netns until destruction, so that its tid names that netns (for
// IFLA_NET_NS_PID, which looks the id up with find_task_by_vpid: thread ids work).
class NetnsThread {
 public:
  NetnsThread() {
    std::future<pid_t> tid = started_.get_future();
    thread_ = std::thread([this, released = release_.get_future()] {
      try {
        CheckSyscall(unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)");
        netns_ = OpenThreadNetns();
        started_.set_value(gettid());
      } catch (...) {
        started_.set_exception(std::current_exception());
        return;
      }
      released.wait();
    });
    try {
      tid_ = tid.get();
    } catch (...) {
      thread_.join();
      throw;
    }
  }
  ~NetnsThread() {
    release_.set_value();
    thread_.join();
  }
  pid_t tid() const { return tid_; }
  int netns_fd() const { return netns_.get(); }

 private:
  std::promise<pid_t> started_;
  std::promise<void> release_;
  std::thread thread_;
  FileDescriptor netns_;
  pid_t tid_ = 0;
};

// The NetlinkError fn throws, or nullopt (and a test failure) if it throws none.
template <typename Fn>
inline std::optional<NetlinkError> NetlinkErrorOf(Fn fn) {
  try {
    fn();
  } catch (const NetlinkError& e) {
    return e;
  }
  ADD_FAILURE() << "expected a NetlinkError";
  return std::nullopt;
}

inline std::vector<std::string> Names(const std::vector<LinkInfo>& links) {
  std::vector<std::string> names;
  for (const LinkInfo& link : links) names.push_back(link.name);
  return names;
}

inline int IndexOf(RouteClient& client, const std::string& name) {
  std::optional<LinkInfo> link = client.GetLink(name);
  if (!link) throw std::runtime_error("no link " + name);
  return link->ifindex;
}

}  // namespace conform
