// The compatibility matrix: clauses x columns (kernels, sandboxes, tools), each cell the clause's
// verdict in that column, as JSON and as one static HTML page.
//
// matrix.json (matrix_version 1):
//   {"matrix_version": 1,
//    "columns": [{"name", "kind", "environment" (as in results.json), "summary" (as in
//                 results.json), "wall_s", "folder"}],
//    "documents": [{"id", "title"}],                      the row groups, in catalogue order
//    "rows": [{"clause", "document", "text",
//              "cells": [{"column", "status", "reason"?, "cases": [case ids], "log"?,
//                         "expectation"?: {"status", "reason", "link"}}]}],
//    "differing": [clause ids whose statuses differ between the columns that ran them]}
//
// Rows: every clause a case of any column names, grouped by catalogue document in catalogue
// order; clauses the catalogue lacks come last, in document "other", by id. A cell's status is
// the clause's verdict in that column (ClauseVerdicts: PASS, SKIP, FAIL, XFAIL), FAIL refined to
// ERROR when none of its cases FAILed but one errored, timed out or was missed (the kernel's
// verdict is unknown there), PASS to XPASS when one of its cases is XPASS (a stale expectation),
// and "NOT RUN" when no case of the column names the clause. Its reason is the reason of the
// first case that decided the verdict (the first XFAIL or XPASS, the first FAIL, else the first
// ERROR/TIMEOUT/MISS, else the first SKIP), its expectation that case's (XFAIL, XPASS); its log
// is that case's log, or the first case's, as a link relative to the matrix file: column
// folder + "/" + case log.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "reports/result_model.h"

namespace conform {

struct MatrixColumn {
  std::string
      name;  // "host", "gvisor", "debian-6.1-cloud", "no-netns", or a tool: "ip", "netns-ref"
  std::string kind;    // "target" or "tool"
  RunResult run;       // the column's results (a tool column holds only that tool's cases)
  std::string folder;  // the run's output folder relative to the matrix file's folder
                       // ("targets/host", or "." for a single run); a case's log link is
                       // folder + "/" + case.log
  double wall_s = 0;   // how long producing this column took
};

nlohmann::json ToMatrixJson(const std::vector<MatrixColumn>& columns);

// One self-contained HTML page (inline CSS and JavaScript, no external resource; a Content
// Security Policy forbids loading any): a plain table readable without JavaScript, a header per
// column (name, kernel, config, sandbox, accelerator, duration, counts), a heading row per
// document, in each cell the status word, for non-PASS the reason's first line (the whole reason
// in a <details>), for XFAIL and XPASS the expectation's reason with a link to its bug (the only
// links that leave the page: http(s) anchors, nothing is loaded) and a link to the case's log.
// JavaScript only adds controls: rows that differ between columns only, a text filter on clause id
// and text, sorting by clause or by status.
std::string ToMatrixHtml(const std::vector<MatrixColumn>& columns, const std::string& title);

}  // namespace conform
