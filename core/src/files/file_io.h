// Private: whole-buffer I/O on POSIX file descriptors (EINTR and short reads
// and writes retried) and atomic file replacement, for the secret files and
// the Paho adapter's store. false on failure, errno saying why.
#ifndef MQSEAL_SRC_FILES_FILE_IO_H_
#define MQSEAL_SRC_FILES_FILE_IO_H_

#include <string>

#include "mqseal/bytes.h"

namespace mqseal::internal {

[[nodiscard]] bool write_all(int fd, ByteView bytes);
// Also false if the file ends before `size` bytes.
[[nodiscard]] bool read_all(int fd, void* out, size_t size);
// Writes `bytes` to `fd`, the open temporary file `temp` beside `path`, fsyncs
// and closes it (always), then renames it to `path`; removes temp on failure.
[[nodiscard]] bool replace_atomically(int fd, const std::string& temp, const std::string& path, ByteView bytes);

}  // namespace mqseal::internal

#endif  // MQSEAL_SRC_FILES_FILE_IO_H_
