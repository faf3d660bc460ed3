// Private: files that hold secrets (keyrings, credentials). Reading refuses
// files another user owns and files group or others can read; writing is
// atomic with mode 0600; the text read is kept in guarded memory.
#ifndef MQSEAL_SRC_SECRET_FILE_H_
#define MQSEAL_SRC_SECRET_FILE_H_

#include <cstdint>
#include <string>

#include "base/secret.h"
#include "mqseal/error.h"

namespace mqseal::internal {

// io_error; insecure_permissions if the file is owned by neither the
// effective user nor root (always), or if group or others may read it
// (unless allowed); parse_error if larger than max_size. Checked with fstat
// on the opened descriptor. The contents, in guarded memory.
[[nodiscard]] Result<Secret> read_secret_file(const std::string& path, bool allow_insecure_permissions,
                                              uint64_t max_size);
// Temporary file in the same directory (mode 0600), fsync, rename, fsync of
// the directory. io_error, also if `path` is a symbolic link (the rename would
// replace the link, not the file it names; the message names that file), and
// if only the directory's fsync failed: then `path` has the new content, but
// it may not survive a power loss (the message says so).
[[nodiscard]] Status write_secret_file(const std::string& path, const std::string& text);
// io_error if `path` is a symbolic link (the message names the file it points
// to): what write_secret_file refuses, for callers that rename a file over
// `path` themselves (provision).
[[nodiscard]] Status refuse_symbolic_link(const std::string& path);

}  // namespace mqseal::internal

#endif  // MQSEAL_SRC_SECRET_FILE_H_
