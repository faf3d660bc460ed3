// Private: the line files, keyring and credentials (docs/SPEC.md, sections 8
// and 11): lines end in \n; a \r or NUL anywhere, comments included, is an
// error; empty lines and lines starting with # are skipped; the header line
// comes first; fields are separated by single spaces. Errors say
// "line N: why" from parsing and "PATH: line N: why" from loading.
#ifndef MQSEAL_SRC_FILES_LINE_FILE_H_
#define MQSEAL_SRC_FILES_LINE_FILE_H_

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "mqseal/error.h"
#include "files/secret_file.h"

namespace mqseal::internal {

inline constexpr size_t kMaxDecimalDigits = 20;

struct Line {
  size_t number;  // from 1, counting every line
  std::string_view text;
  Error error(std::string_view what) const;  // parse_error "line N: what"
};

// Calls on_line for each line after `header`, up to the first error;
// parse_error "empty <kind> file" if there is no header.
[[nodiscard]] Status parse_lines(std::string_view text, std::string_view header, std::string_view kind,
                                 const std::function<Status(const Line&)>& on_line);
// false if there are more than max_fields or an empty one.
[[nodiscard]] bool split_fields(std::string_view line, size_t max_fields, std::vector<std::string_view>& fields);
// 1 to kMaxDecimalDigits decimal digits, nothing else, that fit in 64 bits.
[[nodiscard]] bool parse_u64(std::string_view text, uint64_t& value);

// read_secret_file, then parse(text); parse's errors name the path.
template <typename T, typename Parse>
[[nodiscard]] Result<T> load_line_file(const std::string& path, bool allow_insecure_permissions,
                                       uint64_t max_size, Parse&& parse) {
  Result<Secret> content = read_secret_file(path, allow_insecure_permissions, max_size);
  if (!content) return std::move(content).error();
  Result<T> parsed = parse(content->text());
  if (parsed) return parsed;
  const std::string& detail = parsed.error().detail();
  return Error(parsed.error().code(), detail.empty() ? path : path + ": " + detail);
}
// write_secret_file of serialized text, wiped afterwards; or serializing's error.
[[nodiscard]] Status save_line_file(const std::string& path, Result<std::string> text);

}  // namespace mqseal::internal

#endif  // MQSEAL_SRC_FILES_LINE_FILE_H_
