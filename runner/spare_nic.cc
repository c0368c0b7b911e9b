#include "runner/spare_nic.h"

#include <fcntl.h>
#include <sys/stat.h>

#include "fixtures/netlink.h"
#include "runner/plan.h"

namespace conform {
namespace {

// The initial netns has a fixed inode since 6.18 (NET_NS_INIT_INO); on older kernels the best
// available check is against PID 1's netns where it may be read.
bool InInitialNetns() {
  struct stat self {
  }, init{};
  if (stat("/proc/self/ns/net", &self) != 0) return false;
  if (self.st_ino == 0xEFFFFFF9) return true;
  if (stat("/proc/1/ns/net", &init) == 0) return self.st_ino == init.st_ino;
  return true;  // cannot tell; the refund case itself checks where the device comes back
}

}  // namespace

void ValidateSpareNic(const std::string& name) {
  if (!InInitialNetns())
    throw UsageError("--spare-nic needs the runner in the initial network namespace");
  RouteClient client;
  auto link = client.GetLink(name);
  if (!link) throw UsageError("--spare-nic " + name + ": no such interface");
  if (link->name == "lo") throw UsageError("--spare-nic lo: the loopback device cannot move");
  if (link->IsUp())
    throw UsageError("--spare-nic " + name + " is UP: a spare NIC must be DOWN and unused");
  auto addresses = client.DumpAddresses(link->ifindex);
  if (!addresses.empty())
    throw UsageError("--spare-nic " + name + " has addresses (" + addresses.front() +
                     "): a spare NIC must have none");
  if (!link->kind.empty())
    throw UsageError("--spare-nic " + name + " is a virtual device (" + link->kind +
                     "): it would be destroyed with its netns, not refunded");
}

}  // namespace conform
