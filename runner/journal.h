// The run's journal: one JSON line per finished case, appended as it arrives, so that a runner
// that dies (even by SIGKILL) loses nothing already finished.
#pragma once

#include <filesystem>

#include "fixtures/fd.h"
#include "reports/result_model.h"

namespace conform {

class Journal {
 public:
  // Starts the file with a line holding the environment.
  Journal(const std::filesystem::path& path, const Environment& environment);
  void Append(const CaseResult& result);

 private:
  void WriteLine(const std::string& line);
  std::filesystem::path path_;
  FileDescriptor fd_;
};

}  // namespace conform
