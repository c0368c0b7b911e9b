#include "runner/progress.h"

#include <unistd.h>

#include <string>

#include "reports/report_text.h"

namespace conform {
namespace {

std::string FirstLine(const std::string& text) { return text.substr(0, text.find('\n')); }

}  // namespace

Progress::Progress(std::FILE* out, size_t total)
    : out_(out), live_(isatty(fileno(out)) != 0), total_(total) {
  if (live_) DrawLiveLine();
}

void Progress::DrawLiveLine() {
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::fprintf(out_, "\r\033[K[%zu/%zu] %zu failed  %.1fs", done_, total_, failed_, elapsed);
  std::fflush(out_);
}

void Progress::CaseDone(const CaseResult& result) {
  ++done_;
  const bool bad = result.status == Status::kFail || result.status == Status::kError ||
                   result.status == Status::kTimeout;
  if (bad) ++failed_;
  if (live_) {
    if (bad) {
      std::fprintf(out_, "\r\033[K%-7s %s (%s): %s\n", StatusName(result.status), result.id.c_str(),
                   result.clause.c_str(), FirstLine(result.reason).c_str());
    }
    DrawLiveLine();
    return;
  }
  std::fprintf(out_, "[%zu/%zu] %-7s %s (%.3fs)%s%s\n", done_, total_, StatusName(result.status),
               result.id.c_str(), result.duration_s, result.reason.empty() ? "" : ": ",
               FirstLine(result.reason).c_str());
  std::fflush(out_);
}

void Progress::Finish(const Summary& s) {
  if (live_) std::fprintf(out_, "\r\033[K");
  std::fprintf(out_, "%s in %.2fs\n", SummaryText(s).c_str(), s.duration_s);
  std::fflush(out_);
}

}  // namespace conform
