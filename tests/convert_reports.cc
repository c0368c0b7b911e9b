// The derived report formats of results.json files, for the tests of those formats (the runner's
// own `report convert` and `matrix` commands are wired elsewhere):
//
//   convert_reports ktap RESULTS_JSON                 KTAP on stdout
//   convert_reports kcidb RESULTS_JSON [ORIGIN]       KCIDB JSON on stdout
//   convert_reports matrix OUT TITLE (NAME KIND FOLDER RESULTS_JSON)...
//                                                     OUT.json and OUT.html, one column per
//                                                     quadruple; wall_s is the run's duration
//
// Exit status 0, 1 with one line on stderr when a file cannot be read or written or the writer
// refuses its input, 2 on a usage error.
#include <cstdio>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "reports/json_report.h"
#include "reports/kcidb_report.h"
#include "reports/ktap_report.h"
#include "reports/matrix_report.h"

namespace {

int Usage() {
  std::fprintf(stderr,
               "usage: convert_reports ktap RESULTS_JSON\n"
               "       convert_reports kcidb RESULTS_JSON [ORIGIN]\n"
               "       convert_reports matrix OUT TITLE (NAME KIND FOLDER RESULTS_JSON)...\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) return Usage();
  try {
    const std::string& format = args[0];
    if (format == "ktap" && args.size() == 2) {
      std::cout << conform::ToKtap(conform::ReadResultsFile(args[1]));
    } else if (format == "kcidb" && (args.size() == 2 || args.size() == 3)) {
      conform::KcidbOptions options;
      if (args.size() == 3) options.origin = args[2];
      std::cout << conform::ToKcidb(conform::ReadResultsFile(args[1]), options).dump(2) << "\n";
    } else if (format == "matrix" && args.size() >= 7 && (args.size() - 3) % 4 == 0) {
      std::vector<conform::MatrixColumn> columns;
      for (size_t k = 3; k < args.size(); k += 4) {
        conform::MatrixColumn column{.name = args[k],
                                     .kind = args[k + 1],
                                     .run = conform::ReadResultsFile(args[k + 3]),
                                     .folder = args[k + 2],
                                     .wall_s = 0};
        column.wall_s = column.run.summary.duration_s;
        columns.push_back(std::move(column));
      }
      conform::WriteFileAtomically(args[1] + ".json",
                                   conform::ToMatrixJson(columns).dump(2) + "\n");
      conform::WriteFileAtomically(args[1] + ".html", conform::ToMatrixHtml(columns, args[2]));
    } else {
      return Usage();
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "convert_reports: %s\n", e.what());
    return 1;
  }
  return 0;
}
