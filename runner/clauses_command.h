// `netns-conform clauses`: clause coverage of the suite, per document of the catalogue.
#pragma once

#include <filesystem>

namespace conform {

struct ClausesOptions {
  bool uncovered = false;  // also list every uncovered clause with its text
  bool json = false;
  std::filesystem::path suite_binary;  // empty: the one beside the runner
};

// Prints, per document, how many clauses the suite's cases cover, how many are untestable and
// how many are uncovered (project-internal documents are left out of the counts). Returns 0, or
// 1 when the catalogue and the suite disagree: a case names a clause that is not in the
// catalogue, or a clause marked untestable has cases. Throws InfrastructureError (exit status 2)
// when the suite cannot be listed, CatalogueError when the embedded catalogue is broken.
int ClausesCommand(const ClausesOptions& options);

}  // namespace conform
