#include "files/file_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

namespace mqseal::internal {
namespace {
constexpr uid_t kRootUid = 0;
}  // namespace

Status check_owner(const std::string& path, uid_t owner) {
  const uid_t me = ::geteuid();
  if (owner == me || owner == kRootUid) return {};
  return Error(Errc::insecure_permissions, path + " is owned by uid " + std::to_string(owner) +
                                               ", not by this user (uid " + std::to_string(me) + ") or root");
}

Status check_private_directory(const std::string& path, const struct stat& st) {
  if (!S_ISDIR(st.st_mode)) {
    return Error(Errc::io_error, path + (S_ISLNK(st.st_mode) ? " is a link, not a directory" : " is not a directory"));
  }
  if (Status owner = check_owner(path, st.st_uid); !owner) return owner;
  // Sticky (as /tmp) or not: the sticky bit keeps others from removing or
  // renaming this user's files, but not from taking their names first, and
  // such files belong in a directory of their own anyway.
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return Error(Errc::insecure_permissions, path + " is writable by group or others (chmod go-w it)");
  }
  return {};
}

bool write_all(int fd, ByteView bytes) {
  for (size_t done = 0; done < bytes.size();) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

bool read_all(int fd, void* out, size_t size) {
  for (size_t done = 0; done < size;) {
    const ssize_t n = ::read(fd, static_cast<uint8_t*>(out) + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

std::string directory_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

bool sync_directory(const std::string& directory) {
  const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::fsync(fd) == 0;
  const int saved = errno;
  ::close(fd);
  errno = saved;
  return ok;
}

Replaced replace_atomically(int fd, const std::string& temp, const std::string& path, ByteView bytes) {
  bool ok = write_all(fd, bytes) && ::fsync(fd) == 0;
  ok = (::close(fd) == 0) && ok;
  ok = ok && std::rename(temp.c_str(), path.c_str()) == 0;
  if (!ok) {
    const int saved = errno;
    ::unlink(temp.c_str());
    errno = saved;
    return Replaced::no;
  }
  return sync_directory(directory_of(path)) ? Replaced::durably : Replaced::not_durably;
}

}  // namespace mqseal::internal
