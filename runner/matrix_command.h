// `netns-conform matrix`: the suite on several targets (and the tool scenarios against several
// tools), side by side in matrix.json and matrix.html (reports/matrix_report.h).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace conform {

struct MatrixOptions {
  std::vector<std::string> targets;  // names of runner/target.h; empty: kDefaultMatrixTargets
  std::vector<std::string> tools;    // `netns-conform tools --tool` names; empty: no tool columns
  std::vector<std::string> filters;  // --filter of every target's run
  std::filesystem::path out_dir = "netns-conform-matrix";
  int parallel = 0;  // VM targets booted at once; 0: one per online CPU with KVM, else serial
  double timeout_s = 60;
  // `--expect FILE`s, checked here before anything runs and passed on to every run.
  std::vector<std::string> expect_files;
  // `--launcher exec`, passed on to every target's run (the default is the fork server).
  bool exec_launcher = false;
};

inline const std::vector<std::string> kDefaultMatrixTargets = {"host", "gvisor", "debian-6.1-cloud",
                                                               "debian-6.12", "no-netns"};

// Runs every target as its own `netns-conform run --target NAME --out DIR/targets/NAME` (the
// tools as one `netns-conform tools --out DIR/tools`), longest expected first: with KVM (or an
// explicit `parallel`), up to `parallel` VM targets at once and beside them the others one at a
// time; under TCG without `parallel`, one target at a time (measured faster: see the .cc). Then
// writes DIR/matrix.json and DIR/matrix.html. A target that delivers no results.json becomes a
// column whose every case is ERROR with the run's last words. Exit status: 0 every cell passed
// or skipped, 1 some case failed or errored, 2 usage (an unknown target, a tool the scenarios
// reject) before anything ran.
int MatrixCommand(const MatrixOptions& options);

}  // namespace conform
