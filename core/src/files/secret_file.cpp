#include "files/secret_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "files/file_io.h"

namespace mqseal::internal {

Result<Secret> read_secret_file(const std::string& path, bool allow_insecure_permissions, uint64_t max_size) {
  // O_NONBLOCK: opening a FIFO (or a device) must not wait for a writer;
  // fstat below refuses anything but a regular file, whose reads it does not
  // change.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) return Error(Errc::io_error, "cannot open " + path + ": " + std::strerror(errno));
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    return Error(Errc::io_error, path + " is not a regular file");
  }
  // Owner first, on the opened descriptor (no window between check and
  // read); root's files are accepted (0640 with allow_insecure_permissions
  // for a service that drops privileges).
  if (Status owner = check_owner(path, st.st_uid); !owner) return owner.error();
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0 && !allow_insecure_permissions) {
    return Error(Errc::insecure_permissions, path + " is readable by group or others (chmod 600 it)");
  }
  // Never one group or others may write, whatever the options: whoever can
  // write it chooses its keys (a public key file may be readable, not this).
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return Error(Errc::insecure_permissions, path + " is writable by group or others (chmod go-w it)");
  }
  if (static_cast<uint64_t>(st.st_size) > max_size) {
    return Error(Errc::parse_error, path + " is larger than such a file can be");
  }
  Result<Secret> content = Secret::allocate(static_cast<size_t>(st.st_size));
  if (content && !read_all(fd, content->data(), content->size())) return Error(Errc::io_error, "cannot read " + path);
  return content;
}

Status refuse_symbolic_link(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
    char* target = ::realpath(path.c_str(), nullptr);
    const std::string named = target != nullptr ? target : "a file that does not exist";
    std::free(target);
    return Error(Errc::io_error, path + " is a symbolic link to " + named +
                                     ": name that file itself (saving would replace the link, not the file)");
  }
  return {};
}

Status write_secret_file(const std::string& path, const std::string& text) {
  // The rename below would replace a link with a new file, and whoever reads
  // the file the link names (a broker, a device) would never see the change.
  if (Status link = refuse_symbolic_link(path); !link) return link;
  std::string temp = path + ".tmp.XXXXXX";
  int fd = mkstemp(temp.data());  // creates the file with mode 0600
  if (fd < 0) return Error(Errc::io_error, "cannot create " + temp + ": " + std::strerror(errno));
  if (fchmod(fd, S_IRUSR | S_IWUSR) != 0) {
    const int saved = errno;
    ::close(fd);
    ::unlink(temp.c_str());
    return Error(Errc::io_error, "cannot write " + path + ": " + std::strerror(saved));
  }
  switch (replace_atomically(fd, temp, path, ByteView(text))) {
    case Replaced::durably:
      return {};
    case Replaced::not_durably:
      // Success here would promise what a power loss can take back.
      return Error(Errc::io_error, path + " has the new content, but its directory could not be synced (" +
                                       std::strerror(errno) + "): a power loss may still undo the change");
    case Replaced::no:
      break;
  }
  return Error(Errc::io_error, "cannot write " + path + ": " + std::strerror(errno));
}

}  // namespace mqseal::internal
