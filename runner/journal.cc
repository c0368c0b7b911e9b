#include "runner/journal.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "fixtures/error.h"
#include "reports/json_report.h"
#include "runner/plan.h"

namespace conform {

Journal::Journal(const std::filesystem::path& path, const Environment& environment)
    : path_(path),
      fd_(open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644)) {
  if (!fd_)
    throw InfrastructureError("cannot write journal " + path.string() + ": " + ErrnoName(errno));
  WriteLine(nlohmann::json{{"journal", 1}, {"environment", EnvironmentToJson(environment)}}.dump());
}

void Journal::Append(const CaseResult& result) { WriteLine(CaseToJson(result).dump()); }

void Journal::WriteLine(const std::string& line) {
  const std::string data = line + "\n";
  // One write() per record with O_APPEND: a reader never sees two records interleaved, and a
  // crash can at worst cut the last line short.
  if (write(fd_.get(), data.data(), data.size()) != static_cast<ssize_t>(data.size()))
    throw InfrastructureError("cannot append to journal " + path_.string() + ": " +
                              ErrnoName(errno));
}

}  // namespace conform
