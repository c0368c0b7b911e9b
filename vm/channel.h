// The guest's result channel (the virtio-serial port netns-conform.results, a file on the host):
// marker lines, streamed journal lines, then framed payloads (vm/guest_init.sh writes it).
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace conform::vm {

// Marker lines ("NCVM 1 <KIND> key=value ...") start with this, on the channel and on the reuse
// sandbox's control socket alike.
inline constexpr std::string_view kMarker = "NCVM 1 ";
// A line longer than this makes a stream unreadable.
inline constexpr size_t kMaxMarkerLine = size_t{16} << 20;

// The key=value words of `words` (other words are skipped).
std::map<std::string, std::string> MarkerFields(std::string_view words);
// KIND of a marker line; "" when `line` is not one.
std::string MarkerKind(std::string_view line);

struct ChannelContents {
  bool booted = false, running = false, ended = false;
  std::map<std::string, std::string> booted_fields;   // uptime, release
  std::map<std::string, std::string> running_fields;  // uptime, nic
  std::vector<std::string> journal;                   // "J " lines, prefix removed
  std::optional<std::string> dmesg, runner_log, results_tar;
  std::optional<int> runner_status;  // from the RESULTS frame
  std::string error;                 // a malformed or cut-off frame, empty when fine
};

ChannelContents ParseChannel(std::string_view bytes);

// Extracts a tar archive (ustar or GNU, as busybox writes it) into `dir`: regular files and
// folders only (links and devices are skipped), relative names without "..", at most
// `max_bytes` in all; VmError for a name that would leave `dir` or a cut-off archive. A guest
// cannot write outside `dir`.
void ExtractTar(std::string_view tar, const std::filesystem::path& dir,
                size_t max_bytes = size_t{1} << 30);

// Follows the channel's framing (vm/channel.h) as bytes arrive: marker lines, J lines, and
// the payloads of DMESG/RUNLOG/RESULTS frames skipped by their size. Used by the supervisor to
// find the end of a run in the guest's stream and by the attach client.
class ChannelScanner {
 public:
  // Consumes bytes up to and including the first END line (or all of them); returns how many.
  // `on_line` (optional) gets every marker line ("NCVM 1 ..."), without its newline.
  size_t Feed(std::string_view bytes,
              const std::function<void(std::string_view)>& on_line = nullptr);
  bool ended() const { return ended_; }
  // Ready for the next run's bytes.
  void Reset() { *this = ChannelScanner(); }
  // A line longer than this, or a bad frame size, makes the stream unreadable.
  bool broken() const { return broken_; }

 private:
  std::string line_;
  unsigned long long skip_ = 0;
  bool ended_ = false, broken_ = false;
};

}  // namespace conform::vm
