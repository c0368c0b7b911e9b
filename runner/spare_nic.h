// Checking a NIC the user offers as spare for the device-refund cases (--spare-nic).
#pragma once

#include <string>

namespace conform {

// Throws UsageError unless `name` exists in the runner's netns, which must be the initial one,
// is not lo, is DOWN, and has no addresses: a device in use is never taken.
void ValidateSpareNic(const std::string& name);

}  // namespace conform
