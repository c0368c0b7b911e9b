// The one exception type of the VM sandbox library: what() is one line a user can act on (the
// runner prints it and exits with status 2).
#pragma once

#include <stdexcept>
#include <string>

namespace conform::vm {

class VmError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace conform::vm
