// The compatibility matrix computed from its columns, which reports/matrix_report.cc writes as
// JSON and reports/matrix_html.cc as HTML (the rules are in reports/matrix_report.h).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "reports/matrix_report.h"

namespace conform {

inline constexpr const char* kNotRun = "NOT RUN";

struct MatrixCell {
  std::string status;              // "PASS", "FAIL", "SKIP", "ERROR", "XFAIL", "XPASS" or kNotRun
  std::string reason;              // ReadableText; empty for PASS and kNotRun
  std::vector<std::string> cases;  // ids of the column's cases naming the clause, in run order
  std::string log;                 // link relative to the matrix file; empty when no case has one
  // XFAIL and XPASS: the expectation of the case that decided the cell.
  std::optional<CaseExpectation> expectation;
};

struct MatrixRow {
  std::string clause;
  std::string text;               // the catalogue's text; empty for a clause it lacks
  std::vector<MatrixCell> cells;  // one per column, in column order
  bool differs = false;           // the statuses of the cells that ran the clause are not all equal
};

struct MatrixGroup {
  std::string document;  // catalogue document id, or "other"
  std::string title;
  std::vector<MatrixRow> rows;
};

std::vector<MatrixGroup> BuildMatrix(const std::vector<MatrixColumn>& columns);

}  // namespace conform
