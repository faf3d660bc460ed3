// Private: files that hold secrets (keyrings, credentials). Reading refuses
// files another user owns and files group or others can read; writing is
// atomic with mode 0600; the text is kept in a buffer that is wiped when it
// goes away.
#ifndef MQSEAL_SRC_SECRET_FILE_H_
#define MQSEAL_SRC_SECRET_FILE_H_

#include <cstdint>
#include <string>

#include "mqseal/error.h"

namespace mqseal::internal {

// A string whose bytes are wiped when it goes away: it holds key text.
struct WipedString {
  std::string text;
  WipedString() = default;
  WipedString(const WipedString&) = delete;
  WipedString& operator=(const WipedString&) = delete;
  ~WipedString();
};

// io_error; insecure_permissions if the file is owned by neither the
// effective user nor root (always), or if group or others may read it
// (unless allowed); parse_error if larger than max_size. Checked with fstat
// on the opened descriptor.
[[nodiscard]] Status read_secret_file(const std::string& path, bool allow_insecure_permissions,
                                      uint64_t max_size, WipedString& out);
// Temporary file in the same directory (mode 0600), fsync, rename. io_error.
[[nodiscard]] Status write_secret_file(const std::string& path, const std::string& text);

}  // namespace mqseal::internal

#endif  // MQSEAL_SRC_SECRET_FILE_H_
