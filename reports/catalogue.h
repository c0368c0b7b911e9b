// The clause catalogue: every normative sentence of the specs in ../shared/spec/ and every kernel
// behaviour of ../shared/SEMANTICS.md, each with a stable id (suites/clauses.json, compiled into
// the binaries at build time by reports/embed_catalogue.cmake). Cases name their clause with
// NETNS_TEST; which cases cover a clause is never written into the catalogue, it is derived from
// the suite's own case list (ComputeCoverage).
//
// suites/clauses.json (catalogue_version 1):
//   {"catalogue_version": 1,
//    "documents": [{"id", "title", "source", "internal"?: true}],
//    "clauses": [{"id", "document", "section", "text", "untestable"?: "reason"}]}
// A document marked "internal" holds project-internal clauses (the runner's fault suite): they
// are never counted as covered, untestable or uncovered conformance clauses.
#pragma once

#include <cstddef>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace conform {

inline constexpr int kCatalogueVersion = 1;

// A catalogue text that cannot be parsed or breaks a rule. what() is one line naming the problem
// (and the clause or document, by index and id).
class CatalogueError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct CatalogueDocument {
  std::string id;  // "netns7", "netns7-5.10", "ipnetns8", "clone2", "sem", "test"
  std::string title;
  std::string source;
  bool internal = false;  // project-internal: never counted in coverage
};

struct Clause {
  std::string id;          // "netns7.veth.destroyed-with-netns"
  std::string document;    // a CatalogueDocument id
  std::string section;     // where in the document, e.g. "DESCRIPTION ¶3" or "B4.3"
  std::string text;        // the sentence quoted, or the behaviour in one sentence
  std::string untestable;  // why no program can test it; empty for a testable clause

  bool IsUntestable() const { return !untestable.empty(); }
};

class Catalogue {
 public:
  // Parses a catalogue and checks its rules: catalogue_version is kCatalogueVersion; every
  // document and clause has exactly the fields above, as non-empty strings ("internal" a
  // boolean); document and clause ids are unique and well-formed (IsWellFormedDocumentId,
  // IsWellFormedClauseId); every clause names a document that exists, and its id starts with
  // that document's family (the document id before any "-<release>": netns7-5.10 -> "netns7.");
  // "untestable", when present, is a non-empty reason. Throws CatalogueError otherwise.
  static Catalogue Parse(std::string_view json_text);

  const std::vector<CatalogueDocument>& documents() const { return documents_; }
  // In catalogue order.
  const std::vector<Clause>& clauses() const { return clauses_; }
  // nullptr when absent.
  const Clause* Find(std::string_view id) const;
  const CatalogueDocument* FindDocument(std::string_view id) const;
  // The clauses of one document, in catalogue order.
  std::vector<const Clause*> ClausesOf(std::string_view document) const;

 private:
  std::vector<CatalogueDocument> documents_;
  std::vector<Clause> clauses_;
  std::map<std::string, size_t, std::less<>> clause_index_;
};

// suites/clauses.json as it was when this binary was built.
std::string_view EmbeddedCatalogueText();
// The embedded catalogue, parsed on first use. Throws CatalogueError when it is broken (the
// project's tests make sure it is not).
const Catalogue& LoadCatalogue();

// Lower-case dotted: at least two components, each [a-z0-9]+ words joined by single '-', or a
// SEMANTICS.md behaviour number "B<digits>"; the first component starts with a letter.
// "netns7.veth.destroyed-with-netns", "sem.B4.3.setns-errors".
bool IsWellFormedClauseId(std::string_view id);
// [a-z][a-z0-9]* with an optional "-<release>" of dotted digits: "sem", "netns7-5.10".
bool IsWellFormedDocumentId(std::string_view id);
// The prefix every clause id of a document starts with, without the dot: the document id up to
// its first '-' ("netns7-5.10" -> "netns7").
std::string DocumentFamily(std::string_view document_id);

// ---------------------------------------------------------------------------------------------
// Coverage: which clauses the cases of a suite cover.

// One case of a suite and the clause it names (what `--netns_conform_list` declares).
struct CaseClause {
  std::string case_id;  // "Suite.Case"
  std::string clause;
};

enum class Coverage { kCovered, kUntestable, kUncovered };
// "covered", "untestable", "uncovered".
const char* CoverageName(Coverage coverage);

struct ClauseCoverage {
  const Clause* clause = nullptr;
  Coverage coverage = Coverage::kUncovered;
  std::vector<std::string> cases;  // the cases naming it, in suite order
};

struct DocumentCoverage {
  const CatalogueDocument* document = nullptr;
  std::vector<ClauseCoverage> clauses;  // in catalogue order
  int covered = 0, untestable = 0, uncovered = 0;
  int total() const { return covered + untestable + uncovered; }
};

struct CoverageReport {
  // Every document in catalogue order, internal ones included (callers leave those out of
  // conformance totals).
  std::vector<DocumentCoverage> documents;
  int covered = 0, untestable = 0, uncovered = 0;  // over the non-internal documents
  // Defects: cases naming a clause the catalogue lacks, and clauses marked untestable that cases
  // name anyway (counted as covered).
  std::vector<CaseClause> unknown_clauses;
  std::vector<const Clause*> untestable_but_covered;

  int total() const { return covered + untestable + uncovered; }
  bool HasDefects() const { return !unknown_clauses.empty() || !untestable_but_covered.empty(); }
};

// A clause is covered when at least one case names it, else untestable when it has a reason,
// else uncovered.
CoverageReport ComputeCoverage(const Catalogue& catalogue, const std::vector<CaseClause>& cases);

}  // namespace conform
