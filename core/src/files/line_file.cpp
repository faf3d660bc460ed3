#include "files/line_file.h"

#include <charconv>

#include "base/sodium_util.h"

namespace mqseal::internal {

Error Line::error(std::string_view what) const {
  return Error(Errc::parse_error, "line " + std::to_string(number) + ": " + std::string(what));
}

Status parse_lines(std::string_view text, std::string_view header, std::string_view kind,
                   const std::function<Status(const Line&)>& on_line) {
  bool seen_header = false;
  size_t pos = 0;
  for (size_t number = 1; pos < text.size(); ++number) {
    size_t newline = text.find('\n', pos);
    if (newline == std::string_view::npos) newline = text.size();
    const Line line{number, text.substr(pos, newline - pos)};
    pos = newline + 1;
    // Before comments are skipped: a file edited into CRLF line ends fails
    // the same way whichever line comes first.
    if (line.text.find('\0') != std::string_view::npos || line.text.find('\r') != std::string_view::npos) {
      return line.error("control character (CR or NUL) in line");
    }
    if (line.text.empty() || line.text.front() == '#') continue;
    if (!seen_header) {
      if (line.text != header) return line.error("expected '" + std::string(header) + "'");
      seen_header = true;
      continue;
    }
    if (Status s = on_line(line); !s) return s;
  }
  if (!seen_header) return Error(Errc::parse_error, "empty " + std::string(kind) + " file");
  return {};
}

bool split_fields(std::string_view line, size_t max_fields, std::vector<std::string_view>& fields) {
  fields.clear();
  size_t start = 0;
  while (true) {
    const size_t space = line.find(' ', start);
    const std::string_view field = line.substr(start, space == std::string_view::npos ? space : space - start);
    if (field.empty() || fields.size() == max_fields) return false;
    fields.push_back(field);
    if (space == std::string_view::npos) return true;
    start = space + 1;
  }
}

bool parse_u64(std::string_view text, uint64_t& value) {
  if (text.empty() || text.size() > kMaxDecimalDigits) return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && ptr == text.data() + text.size();
}

Status save_line_file(const std::string& path, Result<std::string> text) {
  if (!text) return text.error();
  ScopedWipe wipe(text->data(), text->size());
  return write_secret_file(path, *text);
}

}  // namespace mqseal::internal
