// Report files: WriteFileAtomically (temporary file, fsync, rename), results.json written and
// read, and any JSON file read with a one-line ReportError naming the file.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <string_view>
#include <utility>

#include "reports/json_report.h"

namespace conform {

namespace {

using nlohmann::json;

std::string ErrnoText(int err) {
  const char* name = strerrorname_np(err);
  return std::string(name != nullptr ? name : "errno " + std::to_string(err)) + " (" +
         std::strerror(err) + ")";
}

// Parse errors of nlohmann read "[json.exception.parse_error.101] parse error at line 1, ...";
// keep the part after the bracket, on one line.
std::string ParseErrorText(const json::parse_error& e) {
  std::string text = e.what();
  if (!text.empty() && text.front() == '[') {
    const size_t end = text.find("] ");
    if (end != std::string::npos) text.erase(0, end + 2);
  }
  for (char& ch : text) {
    if (ch == '\n' || ch == '\r') ch = ' ';
  }
  return text;
}

[[noreturn]] void FailWrite(const std::filesystem::path& path, const std::string& step, int err) {
  throw ReportError("cannot write " + path.string() + ": " + step + ": " + ErrnoText(err));
}

[[noreturn]] void FailRead(const std::filesystem::path& path, const std::string& reason) {
  throw ReportError(path.string() + ": " + reason);
}

// Closes the descriptor and removes the temporary file unless disarmed.
class TempFile {
 public:
  TempFile(std::filesystem::path path, int fd) : path_(std::move(path)), fd_(fd) {}
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  int fd() const { return fd_; }
  const std::filesystem::path& path() const { return path_; }
  // Closes the descriptor; returns close(2)'s result with errno.
  int Close() {
    const int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }
  void Keep() { path_.clear(); }

 private:
  std::filesystem::path path_;
  int fd_;
};

}  // namespace

void WriteFileAtomically(const std::filesystem::path& path, const std::string& content) {
  auto fail = [&path](const std::string& step, int err) { FailWrite(path, step, err); };
  if (!path.has_filename()) fail("not a file name", EINVAL);
  const std::filesystem::path folder = path.has_parent_path() ? path.parent_path() : ".";

  // A name no other writer (thread or process) uses; O_EXCL catches the rest.
  static std::atomic<unsigned> sequence{0};
  int fd = -1;
  std::filesystem::path temp_path;
  for (int attempt = 0;; ++attempt) {
    temp_path = folder / ("." + path.filename().string() + ".tmp." + std::to_string(::getpid()) +
                          "." + std::to_string(sequence.fetch_add(1)));
    fd = ::open(temp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0) break;
    if (errno != EEXIST || attempt >= 100) {
      fail("creating temporary file " + temp_path.filename().string(), errno);
    }
  }
  TempFile temp(temp_path, fd);

  const char* data = content.data();
  size_t left = content.size();
  while (left > 0) {
    const ssize_t n = ::write(temp.fd(), data, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("writing " + temp.path().filename().string(), errno);
    }
    data += n;
    left -= static_cast<size_t>(n);
  }
  if (::fsync(temp.fd()) != 0) fail("fsync of " + temp.path().filename().string(), errno);
  if (temp.Close() != 0) fail("closing " + temp.path().filename().string(), errno);
  if (::rename(temp.path().c_str(), path.c_str()) != 0) {
    fail("renaming " + temp.path().filename().string() + " over it", errno);
  }
  temp.Keep();

  // Make the rename itself durable. The new file is complete and in place whatever happens
  // here, so a failure is not reported.
  const int dir_fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
}

void WriteResultsFile(const std::filesystem::path& path, const RunResult& run) {
  WriteFileAtomically(path, ToJsonText(run));
}

nlohmann::json ReadJsonFile(const std::filesystem::path& path) {
  auto fail = [&path](const std::string& reason) { FailRead(path, reason); };
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("cannot open: " + ErrnoText(errno));
  std::string text;
  char buffer[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      fail("cannot read: " + ErrnoText(err));
    }
    if (n == 0) break;
    text.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);

  if (text.find_first_not_of(" \t\r\n") == std::string::npos) fail("empty file, expected JSON");
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    const bool at_end =
        e.byte >= text.size() || text.find_first_not_of(" \t\r\n", e.byte) == std::string::npos;
    FailRead(path, std::string(at_end ? "truncated JSON: " : "invalid JSON: ") + ParseErrorText(e));
  }
}

RunResult ReadResultsFile(const std::filesystem::path& path) {
  const json doc = ReadJsonFile(path);
  try {
    return RunResultFromJson(doc);
  } catch (const ReportError& e) {
    FailRead(path, e.what());
  }
}

}  // namespace conform
