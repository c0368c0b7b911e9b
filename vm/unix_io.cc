// File descriptors and unix stream sockets of the reuse sandbox: see vm/unix_io.h.
#include "vm/unix_io.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "vm/error.h"

namespace fs = std::filesystem;

namespace conform::vm {

std::string Errno(int e) { return std::strerror(e); }

bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

sockaddr_un UnixAddress(const fs::path& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string s = path.string();
  if (s.size() >= sizeof(addr.sun_path))
    throw VmError("socket path too long (" + std::to_string(s.size()) + " bytes, at most " +
                  std::to_string(sizeof(addr.sun_path) - 1) + "): " + s);
  std::memcpy(addr.sun_path, s.c_str(), s.size() + 1);
  return addr;
}

// A connected stream socket, or an invalid Fd with errno set.
Fd ConnectUnix(const fs::path& path) {
  const sockaddr_un addr = UnixAddress(path);
  Fd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return fd;
  if (connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    const int e = errno;
    fd.reset();
    errno = e;
  }
  return fd;
}

}  // namespace conform::vm
