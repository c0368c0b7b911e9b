// Progress of a run: on a terminal one live line (done/total, failures so far, elapsed) with
// failures printed above it as they happen; otherwise one plain line per finished case.
#pragma once

#include <chrono>
#include <cstdio>

#include "reports/result_model.h"

namespace conform {

class Progress {
 public:
  Progress(std::FILE* out, size_t total);
  void CaseDone(const CaseResult& result);
  void Finish(const Summary& summary);

 private:
  void DrawLiveLine();

  std::FILE* out_;
  bool live_;
  size_t total_, done_ = 0, failed_ = 0;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

}  // namespace conform
