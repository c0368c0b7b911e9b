// The kernel features the suite binary probes (fixtures/features.h), asked of the binary itself
// so that they are the kernel's as the cases see it: recorded in environment.features, where
// expectations with a feature condition look (reports/apply_expectations.h).
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace conform {

// Runs `[wrapper...] suite_binary --netns_conform_features` and parses its JSON object. The
// wrapper puts the binary where the cases run (gVisor: `runsc do`); empty: on the host. Throws
// InfrastructureError naming the binary when it fails or answers with anything else.
std::map<std::string, bool> ProbeSuiteFeatures(const std::filesystem::path& suite_binary,
                                               const std::vector<std::string>& wrapper = {});

}  // namespace conform
