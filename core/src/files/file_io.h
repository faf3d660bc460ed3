// Private: whole-buffer I/O on POSIX file descriptors (EINTR and short reads
// and writes retried), durable atomic file replacement, and the owner and
// directory checks, for the secret files, the replay store's file and the
// Paho adapter's store. The bool functions: false on failure, errno saying
// why.
#ifndef MQSEAL_SRC_FILES_FILE_IO_H_
#define MQSEAL_SRC_FILES_FILE_IO_H_

#include <sys/stat.h>
#include <sys/types.h>

#include <string>

#include "mqseal/bytes.h"
#include "mqseal/error.h"

namespace mqseal::internal {

[[nodiscard]] bool write_all(int fd, ByteView bytes);
// insecure_permissions unless `owner` (of the file or directory `path`) is
// this process's effective user or root: whatever another user owns could
// hold that user's keys or records, whatever its mode. Root's are accepted:
// root can replace anything anyway, and a root-owned secret readable by a
// service's group is how a service that drops privileges (mosquitto) is
// usually given one.
[[nodiscard]] Status check_owner(const std::string& path, uid_t owner);
// A directory only this user (or root) may change, for files whose
// directory must be trusted as well (the replay store's file, the Paho
// adapter's records): whoever else can write a directory can delete,
// replace or roll back what is in it, and plant links and FIFOs, whatever
// the files' own modes. io_error if it is not a directory (a link, when `st`
// is from lstat); insecure_permissions (always: no option allows it) if it
// is owned by neither the effective user nor root (check_owner), or if group
// or others may write it, with or without the sticky bit (/tmp: a directory
// of its own is asked for). `st` from stat or lstat of `path`.
[[nodiscard]] Status check_private_directory(const std::string& path, const struct stat& st);
// Also false if the file ends before `size` bytes.
[[nodiscard]] bool read_all(int fd, void* out, size_t size);
// The directory that holds `path` ("." for a bare name).
std::string directory_of(const std::string& path);
// fsync of `directory` (opened O_RDONLY | O_DIRECTORY): a rename, a new file or
// an unlink in it survives a power loss only once this returned true; fsync
// of the file alone does not make its name durable.
[[nodiscard]] bool sync_directory(const std::string& directory);

enum class Replaced {
  no,              // `path` is as it was; temp removed
  not_durably,     // `path` has the new bytes, but its directory's fsync failed:
                   // a power loss may still bring the old file back (or none)
  durably,
};
// Writes `bytes` to `fd`, the open temporary file `temp` beside `path`, fsyncs
// and closes it (always), renames it to `path`, then fsyncs the directory of
// `path`. errno says why when not Replaced::durably.
[[nodiscard]] Replaced replace_atomically(int fd, const std::string& temp, const std::string& path, ByteView bytes);

}  // namespace mqseal::internal

#endif  // MQSEAL_SRC_FILES_FILE_IO_H_
