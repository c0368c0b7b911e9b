// Shared by the VM library's unit tests (vm_unit_test): a scratch folder removed with the test.
#pragma once

#include <gmock/gmock.h>
#include <stdlib.h>

#include <filesystem>

namespace conform::vm {

namespace fs = std::filesystem;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

// A scratch folder removed with the test.
class ScratchDir {
 public:
  ScratchDir() {
    char tmpl[] = "/tmp/vm_unit_test.XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace conform::vm
