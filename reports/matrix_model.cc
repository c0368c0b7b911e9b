#include "reports/matrix_model.h"

#include <algorithm>
#include <map>
#include <set>

#include "reports/catalogue.h"
#include "reports/report_text.h"

namespace conform {

namespace {

constexpr const char* kOtherDocument = "other";

bool IsError(Status status) {
  return status == Status::kError || status == Status::kTimeout || status == Status::kMiss;
}

std::string LogLink(const std::string& folder, const std::string& log) {
  if (log.empty()) return "";
  return folder.empty() ? log : folder + "/" + log;
}

// The cell of one clause in one column: `verdict` is ClauseVerdicts' status, `cases` the
// column's cases naming the clause (never empty).
MatrixCell Cell(Status verdict, const std::vector<const CaseResult*>& cases,
                const std::string& folder) {
  MatrixCell cell;
  for (const CaseResult* c : cases) cell.cases.push_back(ReadableText(c->id));
  const auto first = [&cases](auto predicate) -> const CaseResult* {
    const auto it = std::find_if(cases.begin(), cases.end(),
                                 [&](const CaseResult* c) { return predicate(c->status); });
    return it == cases.end() ? nullptr : *it;
  };
  const CaseResult* decisive = nullptr;
  if (verdict == Status::kXfail) {
    cell.status = "XFAIL";
    decisive = first([](Status s) { return s == Status::kXfail; });
  } else if (verdict == Status::kPass &&
             (decisive = first([](Status s) { return s == Status::kXpass; })) != nullptr) {
    // Passed, but an expectation said it would not: shown apart so the stale entry is seen.
    cell.status = "XPASS";
  } else if (verdict == Status::kPass) {
    cell.status = "PASS";
  } else if (verdict == Status::kSkip) {
    cell.status = "SKIP";
    decisive = cases.front();
  } else if ((decisive = first([](Status s) { return s == Status::kFail; })) != nullptr) {
    cell.status = "FAIL";
  } else if ((decisive = first(IsError)) != nullptr) {
    cell.status = "ERROR";
  } else {
    // PASS and SKIP mixed: the clause was not shown to hold in full.
    cell.status = "FAIL";
    decisive = first([](Status s) { return s != Status::kPass; });
  }
  if (decisive != nullptr) {
    if (decisive->expectation) {
      cell.expectation = decisive->expectation;
      cell.expectation->reason = ReadableText(cell.expectation->reason);
      cell.expectation->link = ReadableText(cell.expectation->link);
    }
    cell.reason = decisive->reason.empty()
                      ? std::string("no reason recorded for ") + StatusName(decisive->status)
                      : ReadableText(decisive->reason);
  }
  const CaseResult* logged = decisive != nullptr && !decisive->log.empty() ? decisive : nullptr;
  if (logged == nullptr) {
    const auto it = std::find_if(cases.begin(), cases.end(),
                                 [](const CaseResult* c) { return !c->log.empty(); });
    if (it != cases.end()) logged = *it;
  }
  if (logged != nullptr) cell.log = LogLink(ReadableText(folder), ReadableText(logged->log));
  return cell;
}

// Clause id -> cell, for one column.
std::map<std::string, MatrixCell> ColumnCells(const MatrixColumn& column) {
  std::map<std::string, std::vector<const CaseResult*>> by_clause;
  for (const CaseResult& c : column.run.cases)
    if (!c.clause.empty()) by_clause[c.clause].push_back(&c);
  std::map<std::string, MatrixCell> cells;
  for (const ClauseVerdict& verdict : ClauseVerdicts(column.run.cases))
    cells[verdict.id] = Cell(verdict.status, by_clause[verdict.id], column.folder);
  return cells;
}

MatrixRow Row(const std::string& clause, const std::string& text,
              const std::vector<std::map<std::string, MatrixCell>>& columns) {
  MatrixRow row{.clause = ReadableText(clause), .text = ReadableText(text), .cells = {}};
  MatrixCell not_run;
  not_run.status = kNotRun;
  for (const auto& cells : columns) {
    const auto it = cells.find(clause);
    row.cells.push_back(it != cells.end() ? it->second : not_run);
  }
  // Only the columns that ran the clause are compared: a tool column never runs the suite's
  // clauses (nor a target the tool scenarios'), and that is no difference in behaviour.
  const MatrixCell* first_run = nullptr;
  for (const auto& cell : row.cells) {
    if (cell.status == kNotRun) continue;
    if (!first_run) {
      first_run = &cell;
    } else if (cell.status != first_run->status) {
      row.differs = true;
    }
  }
  return row;
}

}  // namespace

std::vector<MatrixGroup> BuildMatrix(const std::vector<MatrixColumn>& columns) {
  std::vector<std::map<std::string, MatrixCell>> cells;
  std::set<std::string> named;
  for (const MatrixColumn& column : columns) {
    cells.push_back(ColumnCells(column));
    for (const auto& [clause, cell] : cells.back()) named.insert(clause);
  }

  const Catalogue& catalogue = LoadCatalogue();
  std::vector<MatrixGroup> groups;
  for (const CatalogueDocument& document : catalogue.documents()) {
    MatrixGroup group{.document = document.id, .title = document.title, .rows = {}};
    for (const Clause* clause : catalogue.ClausesOf(document.id)) {
      if (named.erase(clause->id) > 0) group.rows.push_back(Row(clause->id, clause->text, cells));
    }
    if (!group.rows.empty()) groups.push_back(std::move(group));
  }
  // What is left is unknown to the catalogue (a newer suite, a hand-made results.json).
  if (!named.empty()) {
    MatrixGroup other{
        .document = kOtherDocument, .title = "clauses not in this build's catalogue", .rows = {}};
    for (const std::string& clause : named) other.rows.push_back(Row(clause, "", cells));
    groups.push_back(std::move(other));
  }
  return groups;
}

}  // namespace conform
