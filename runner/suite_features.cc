#include "runner/suite_features.h"

#include <boost/process.hpp>
#include <iterator>
#include <nlohmann/json.hpp>

#include "runner/plan.h"

namespace bp = boost::process;

namespace conform {

std::map<std::string, bool> ProbeSuiteFeatures(const std::filesystem::path& suite_binary,
                                               const std::vector<std::string>& wrapper) {
  std::vector<std::string> argv = wrapper;
  argv.insert(argv.end(), {suite_binary.string(), "--netns_conform_features"});
  const std::string command =
      argv.front() == suite_binary.string()
          ? suite_binary.string() + " --netns_conform_features"
          : argv.front() + " ... " + suite_binary.string() + " --netns_conform_features";
  bp::ipstream out;
  bp::child prober(argv.front(), bp::args(std::vector<std::string>(argv.begin() + 1, argv.end())),
                   bp::std_out > out, bp::std_err > bp::null, bp::std_in < bp::null);
  const std::string text((std::istreambuf_iterator<char>(out)), std::istreambuf_iterator<char>());
  prober.wait();
  if (prober.exit_code() != 0)
    throw InfrastructureError(command + " exited with " + std::to_string(prober.exit_code()));
  std::map<std::string, bool> features;
  try {
    const nlohmann::json answer = nlohmann::json::parse(text);
    if (!answer.is_object()) throw InfrastructureError(command + " printed no JSON object");
    for (const auto& [name, present] : answer.items()) features[name] = present.get<bool>();
  } catch (const nlohmann::json::exception& e) {
    throw InfrastructureError("cannot read the features " + command + " printed: " + e.what());
  }
  return features;
}

}  // namespace conform
