// Tests of the reference ip-netns(8) implementation (fixtures/ref/) and of netns-ref: main()
// first moves the whole (still single-threaded) process into private mount and network
// namespaces with private tmpfs on /tmp, /run/netns and /etc/netns (EnterSelfSandbox), and every
// test works in a run folder of its own under that /tmp: nothing here can reach the host's
// /run/netns, /etc/netns, mounts or netns, even when a test crashes. The tests are in
// tests/ref_*_test.cc.
#include <fcntl.h>
#include <gtest/gtest.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "fixtures/sandbox_mounts.h"
#include "tests/ref_test_support.h"

namespace conform::ref {

std::string& RefBinaryPath() {
  static std::string path = NETNS_REF_BIN;
  return path;
}
const std::string& RefBinary() { return RefBinaryPath(); }

}  // namespace conform::ref

int main(int argc, char** argv) {
  // The private /tmp of the sandbox hides a build tree under /tmp (a clone there, say): the
  // binary is held by an fd opened before, and started through /proc/self/fd.
  const int ref_fd = open(NETNS_REF_BIN, O_PATH);
  if (ref_fd < 0) {
    std::fprintf(stderr, "ref_test: cannot open %s: %s\n", NETNS_REF_BIN, std::strerror(errno));
    return 1;
  }
  conform::ref::RefBinaryPath() = "/proc/self/fd/" + std::to_string(ref_fd);
  // Before gtest and before any thread: unshare(CLONE_NEWNS) needs a single-threaded process.
  if (const std::string error = conform::EnterSelfSandbox(); !error.empty()) {
    std::fprintf(stderr, "ref_test: cannot enter a private sandbox (%s); run as root\n",
                 error.c_str());
    return 1;
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
