#include "reports/matrix_report.h"

#include <cmath>

#include "reports/json_report.h"
#include "reports/matrix_model.h"
#include "reports/report_text.h"

namespace conform {

using nlohmann::json;

json ToMatrixJson(const std::vector<MatrixColumn>& columns) {
  json out_columns = json::array();
  for (const MatrixColumn& column : columns) {
    out_columns.push_back(
        {{"name", ReadableText(column.name)},
         {"kind", ReadableText(column.kind)},
         {"environment", EnvironmentToJson(column.run.environment)},
         {"summary", ToJson(column.run)["summary"]},
         {"wall_s", std::isfinite(column.wall_s) && column.wall_s > 0 ? column.wall_s : 0.0},
         {"folder", ReadableText(column.folder)}});
  }

  json documents = json::array(), rows = json::array(), differing = json::array();
  for (const MatrixGroup& group : BuildMatrix(columns)) {
    documents.push_back({{"id", group.document}, {"title", group.title}});
    for (const MatrixRow& row : group.rows) {
      json cells = json::array();
      for (size_t k = 0; k < row.cells.size(); ++k) {
        const MatrixCell& cell = row.cells[k];
        json entry = {{"column", ReadableText(columns[k].name)},
                      {"status", cell.status},
                      {"cases", cell.cases}};
        if (!cell.reason.empty()) entry["reason"] = cell.reason;
        if (!cell.log.empty()) entry["log"] = cell.log;
        if (cell.expectation) {
          entry["expectation"] = {{"status", StatusName(cell.expectation->status)},
                                  {"reason", cell.expectation->reason},
                                  {"link", cell.expectation->link}};
        }
        cells.push_back(std::move(entry));
      }
      rows.push_back({{"clause", row.clause},
                      {"document", group.document},
                      {"text", row.text},
                      {"cells", std::move(cells)}});
      if (row.differs) differing.push_back(row.clause);
    }
  }
  return {{"matrix_version", 1},
          {"columns", std::move(out_columns)},
          {"documents", std::move(documents)},
          {"rows", std::move(rows)},
          {"differing", std::move(differing)}};
}

}  // namespace conform
