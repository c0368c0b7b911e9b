// `netns-conform report merge|diff|convert`: work on the results.json of earlier runs.
//
//   report merge RESULTS.json... --out DIR [--allow-partial]
//       the shards of one run (or runs of disjoint cases) as one results.json + junit.xml in DIR
//       (reports/run_merge.h has the rules); exit 1 when a merged case failed, errored, timed
//       out or was missed, as `run` would have.
//       Cases keep their status: XFAIL and XPASS stay as they are.
//   report diff BASE.json NEW.json [--json] [--expect FILE]...
//       regressions, fixes, other changes, new and vanished cases (reports/run_diff.h); exit 1
//       when there is a regression. --expect applies expectations to both runs first (an XFAIL
//       is no regression).
//   report convert RESULTS.json --to junit|ktap|kcidb|html [--out FILE] [--origin NAME]
//                  [--expect FILE]...
//       another format, on stdout or atomically into FILE; --expect applies expectations first.
// Bad input (a file that cannot be read or is not a results.json of schema version 1 or 2, an
// expectations file that is bad or names no case of the results, runs that do not belong
// together, a bad option): exit 2 with one line on stderr, nothing written.
#pragma once

#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace conform {

// Registers `report` and its three subcommands on `app`; Run() executes the one the command line
// chose. CLI11 keeps pointers to the members, hence neither copyable nor movable.
class ReportSubcommand {
 public:
  explicit ReportSubcommand(CLI::App& app);
  ReportSubcommand(const ReportSubcommand&) = delete;
  ReportSubcommand& operator=(const ReportSubcommand&) = delete;

  // True when the command line asked for `report`.
  bool chosen() const;
  // The exit status. Throws ReportError / UsageError for exit status 2.
  int Run() const;

 private:
  int Merge() const;
  int Diff() const;
  int Convert() const;

  CLI::App* report_ = nullptr;
  CLI::App* merge_ = nullptr;
  CLI::App* diff_ = nullptr;
  CLI::App* convert_ = nullptr;

  std::vector<std::string> merge_inputs_;
  std::string merge_out_;
  bool allow_partial_ = false;

  std::string diff_base_;
  std::string diff_new_;
  bool diff_json_ = false;
  std::vector<std::string> diff_expect_;

  std::string convert_input_;
  std::string convert_to_;
  std::string convert_out_;
  std::string convert_origin_;
  std::vector<std::string> convert_expect_;
};

}  // namespace conform
