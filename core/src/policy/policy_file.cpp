#include "mqseal/policy_file.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "files/secret_file.h"

namespace mqseal {

namespace {

constexpr int64_t kPolicyFileVersion = 1;

// ---- The TOML subset policy files may use (docs/SPEC.md section 9) ----
//
// toml++ 3.3.0 (Debian 12) has undefined behaviour or failed assertions on
// some malformed input, found by fuzzing toml::parse with its assertions on
// and UBSan (the sanitizer build compiles toml++ in so that the tests see it):
//  - a non-ASCII character where the parser looks for whitespace (outside
//    strings and comments) reaches __builtin_unreachable in
//    is_non_ascii_horizontal_whitespace for U+00A1-U+0499, U+2C8E-U+3087 and
//    U+FC26-U+FEFE, except the real whitespace among them (e.g. the 3 bytes
//    EF BB 9F, U+FEDF, alone);
//  - a table header whose first character after '[' or '[[' is neither a key
//    character, a quote nor ']' fails parse_key's assertion (`[[+/b"`);
//  - malformed arrays and inline tables (`a = [1, }`) fail parse_value's
//    assertions, malformed dates and times (`1989-05-27T(7:32`) parse_time's.
// In builds with NDEBUG those assertions become assumptions (clang) or
// nothing, so the behaviour is undefined there too. Rather than chase each
// path, text reaches toml++ only if it is valid UTF-8 and every line is in
// the small subset a policy needs, checked here first: blank lines, comments,
// `[name]` / `[[name]]` headers and `key = value` lines with bare keys and
// one-line strings, decimal integers or booleans as values; outside strings
// and comments only ASCII. None of the paths above is reachable from such
// text (the fuzzed corpus in tests/policy_file_test.cpp checks it).

constexpr size_t kMaxPolicyIntegerDigits = 18;  // below 2^63: no overflow path in toml++
constexpr uint32_t kMaxCodePoint = 0x10FFFF;
constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";
constexpr const char* kValueForms =
    "a value is a one-line \"string\" or 'string', a decimal integer, true or false";

Error line_error(size_t line, const std::string& what) {
  return Error(Errc::parse_error, "line " + std::to_string(line) + ": " + what);
}

// Length of the strict UTF-8 sequence at text[pos] (shortest form, no
// surrogates, at most U+10FFFF), or 0 if there is none.
size_t utf8_sequence_length(std::string_view text, size_t pos) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(text[pos + i]); };
  const auto continuation = [&](size_t i) { return pos + i < text.size() && (byte(i) & 0xC0) == 0x80; };
  const uint8_t b0 = byte(0);
  if (b0 < 0x80) return 1;
  if (b0 >= 0xC2 && b0 <= 0xDF) return continuation(1) ? 2 : 0;
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    if (!continuation(1) || !continuation(2)) return 0;
    if (b0 == 0xE0 && byte(1) < 0xA0) return 0;   // overlong
    if (b0 == 0xED && byte(1) >= 0xA0) return 0;  // surrogate
    return 3;
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    if (!continuation(1) || !continuation(2) || !continuation(3)) return 0;
    if (b0 == 0xF0 && byte(1) < 0x90) return 0;   // overlong
    if (b0 == 0xF4 && byte(1) >= 0x90) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

bool is_control(char c) {
  const auto b = static_cast<uint8_t>(c);
  return (b < 0x20 && c != '\t') || b == 0x7F;
}
bool is_bare_key_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex_digit(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
uint32_t hex_value(char c) {
  return is_digit(c) ? static_cast<uint32_t>(c - '0') : static_cast<uint32_t>((c | 0x20) - 'a' + 10);
}

// Checks one line (without its line break), left to right.
class SubsetLine {
 public:
  SubsetLine(std::string_view line, size_t number) : line_(line), number_(number) {}

  Status check() {
    skip_blanks();
    if (done()) return {};
    if (peek() == '#') return comment();
    if (Status s = peek() == '[' ? header() : key_value(); !s) return s;
    skip_blanks();
    if (done()) return {};
    if (peek() == '#') return comment();
    return fail("expected a comment or the end of the line");
  }

 private:
  bool done() const { return at_ >= line_.size(); }
  char peek(size_t ahead = 0) const { return at_ + ahead < line_.size() ? line_[at_ + ahead] : '\0'; }
  bool starts_with(std::string_view s) const { return line_.substr(at_, s.size()) == s; }
  void skip_blanks() {
    while (!done() && (peek() == ' ' || peek() == '\t')) ++at_;
  }
  Error fail(const std::string& what) const { return line_error(number_, what); }

  Status comment() {
    for (++at_; !done(); ++at_) {
      if (is_control(peek())) return fail("control character in a comment");
    }
    return {};
  }

  Status bare_key(const char* where) {
    const size_t start = at_;
    while (!done() && is_bare_key_char(peek())) ++at_;
    if (at_ == start) return fail(std::string("expected a bare key (letters, digits, '_', '-') ") + where);
    return {};
  }

  // [name] or [[name]]
  Status header() {
    const std::string_view close = starts_with("[[") ? "]]" : "]";
    at_ += close.size();
    if (Status s = bare_key("in a table header"); !s) return s;
    if (!starts_with(close)) return fail("expected '" + std::string(close) + "'");
    at_ += close.size();
    return {};
  }

  Status key_value() {
    if (Status s = bare_key("at the start of the line"); !s) return s;
    skip_blanks();
    if (peek() != '=') return fail("expected '=' after the key");
    ++at_;
    skip_blanks();
    if (peek() == '"') return basic_string();
    if (peek() == '\'') return literal_string();
    if (starts_with("true")) return word(4);
    if (starts_with("false")) return word(5);
    if (is_digit(peek()) || peek() == '+' || peek() == '-') return integer();
    return fail(kValueForms);
  }

  // What may follow a value: a blank, a comment or the end of the line.
  Status value_end() {
    if (done() || peek() == ' ' || peek() == '\t' || peek() == '#') return {};
    return fail(kValueForms);
  }

  Status word(size_t length) {
    at_ += length;
    return value_end();
  }

  Status integer() {
    if (peek() == '+' || peek() == '-') ++at_;
    const size_t start = at_;
    while (!done() && is_digit(peek())) ++at_;
    const size_t digits = at_ - start;
    if (digits == 0 || digits > kMaxPolicyIntegerDigits || (digits > 1 && line_[start] == '0')) {
      return fail("integers are 1 to 18 decimal digits, without leading zeros");
    }
    return value_end();
  }

  Status basic_string() {
    if (starts_with(R"(""")")) return fail("multi-line strings are not supported in policy files");
    for (++at_; !done(); ++at_) {
      const char c = peek();
      if (c == '"') {
        ++at_;
        return value_end();
      }
      if (is_control(c)) return fail("control character in a string");
      if (c != '\\') continue;
      ++at_;
      const char e = peek();
      if (e == 'b' || e == 't' || e == 'n' || e == 'f' || e == 'r' || e == '"' || e == '\\') continue;
      if (e != 'u' && e != 'U') return fail("unknown escape sequence in a string");
      const size_t count = e == 'u' ? 4 : 8;
      uint32_t code_point = 0;
      for (size_t i = 1; i <= count; ++i) {
        if (!is_hex_digit(peek(i))) return fail("\\u needs 4 and \\U 8 hex digits");
        if (code_point > kMaxCodePoint) return fail("escape is not a Unicode scalar value");
        code_point = code_point * 16 + hex_value(peek(i));
      }
      if (code_point > kMaxCodePoint || (code_point >= 0xD800 && code_point <= 0xDFFF)) {
        return fail("escape is not a Unicode scalar value");
      }
      at_ += count;
    }
    return fail("unterminated string (a string ends on its line)");
  }

  Status literal_string() {
    if (starts_with("'''")) return fail("multi-line strings are not supported in policy files");
    for (++at_; !done(); ++at_) {
      if (peek() == '\'') {
        ++at_;
        return value_end();
      }
      if (is_control(peek())) return fail("control character in a string");
    }
    return fail("unterminated string (a string ends on its line)");
  }

  std::string_view line_;
  size_t number_;
  size_t at_ = 0;
};

// parse_error naming the line, unless `text` is valid UTF-8 in the subset.
Status check_policy_subset(std::string_view text) {
  size_t line = 1;
  for (size_t pos = 0; pos < text.size();) {
    if (text[pos] == '\n') ++line;
    const size_t length = utf8_sequence_length(text, pos);
    if (length == 0) return line_error(line, "not valid UTF-8");
    pos += length;
  }
  line = 0;
  for (size_t pos = 0; pos <= text.size();) {
    ++line;
    const size_t newline = std::min(text.find('\n', pos), text.size());
    std::string_view content = text.substr(pos, newline - pos);
    if (!content.empty() && content.back() == '\r') content.remove_suffix(1);
    if (content.find('\r') != std::string_view::npos) {
      return line_error(line, "a carriage return may only come right before a line feed");
    }
    if (Status s = SubsetLine(content, line).check(); !s) return s;
    pos = newline + 1;
  }
  return {};
}

Error at(const toml::node& node, const std::string& what) {
  const toml::source_region& where = node.source();
  return Error(Errc::parse_error, "line " + std::to_string(where.begin.line) + ": " + what);
}

// `retained = "accept" | "refuse"` and `retained_max_age_ms = N` (with
// "accept" only): the rule's own treatment of retained messages.
Status retained_rule(const toml::table& rule, std::optional<RetainedRule>& out) {
  const toml::node* policy = rule.get("retained");
  const toml::node* max_age = rule.get("retained_max_age_ms");
  if (policy == nullptr) {
    if (max_age != nullptr) return at(*max_age, "'retained_max_age_ms' needs 'retained = \"accept\"'");
    return {};
  }
  const std::optional<std::string> word = policy->value<std::string>();
  RetainedRule r;
  if (word == "refuse") {
    if (max_age != nullptr) return at(*max_age, "'retained_max_age_ms' needs 'retained = \"accept\"'");
    r.policy = RetainedPolicy::refuse;
  } else if (word == "accept") {
    if (max_age != nullptr) {
      const std::optional<int64_t> ms = max_age->value_exact<int64_t>();
      if (!ms || *ms < 1) return at(*max_age, "'retained_max_age_ms' must be a positive integer");
      r.max_age_ms = static_cast<uint64_t>(*ms);
    }
  } else {
    return at(*policy, "'retained' must be \"accept\" or \"refuse\"");
  }
  out = r;
  return {};
}

Status signer_list(const toml::node& list_node, std::vector<std::string>& signers);

// `suite = 1 | 2 | 5` (1 when absent) and, with 2 only, `signers = "a, b"`: the
// signer names authorised on every topic of the rule, separated by commas
// (blanks around them allowed; the TOML subset has no arrays).
Status suite_and_signers(const toml::table& rule, Suite& suite, std::vector<std::string>& signers) {
  suite = Suite::symmetric;
  if (const toml::node* n = rule.get("suite")) {
    const std::optional<int64_t> value = n->value_exact<int64_t>();
    if (value == std::optional<int64_t>(2)) {
      suite = Suite::signed_sender;
    } else if (value == std::optional<int64_t>(5)) {
      suite = Suite::aes256gcm;
    } else if (value != std::optional<int64_t>(1)) {
      return at(*n, "a 'key' rule's 'suite' must be 1, 2 or 5 (3 and 4 take a 'recipient')");
    }
  }
  const toml::node* list = rule.get("signers");
  if (list == nullptr) return {};
  if (suite != Suite::signed_sender) return at(*list, "'signers' needs 'suite = 2'");
  return signer_list(*list, signers);
}

// `signers = "a, b"`: names separated by commas, blanks around them allowed.
Status signer_list(const toml::node& list_node, std::vector<std::string>& signers) {
  const toml::node* list = &list_node;
  const std::optional<std::string> text = list->value<std::string>();
  if (!text) return at(*list, "'signers' must be a string of names separated by commas");
  size_t pos = 0;
  while (true) {
    const size_t comma = std::min(text->find(',', pos), text->size());
    std::string_view name = std::string_view(*text).substr(pos, comma - pos);
    while (!name.empty() && (name.front() == ' ' || name.front() == '\t')) name.remove_prefix(1);
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
    if (name.empty()) return at(*list, "'signers' has an empty name");
    signers.emplace_back(name);
    if (comma == text->size()) return {};
    pos = comma + 1;
  }
}

Status add_rule(TopicPolicy& policy, const toml::table& rule) {
  for (const auto& [key, value] : rule) {
    if (key != "filter" && key != "key" && key != "plaintext" && key != "retained" &&
        key != "retained_max_age_ms" && key != "suite" && key != "signers" && key != "compact" &&
        key != "recipient") {
      return at(value, "unknown rule field '" + std::string(key.str()) + "'");
    }
  }
  const std::optional<std::string> filter = rule["filter"].value<std::string>();
  if (!filter) return at(rule, "rule needs a string 'filter'");
  const toml::node* key = rule.get("key");
  const toml::node* plaintext = rule.get("plaintext");
  const toml::node* recipient = rule.get("recipient");
  if ((key != nullptr) + (plaintext != nullptr) + (recipient != nullptr) != 1) {
    return at(rule, "rule needs exactly one of 'key', 'recipient' or 'plaintext = true'");
  }
  Status added;
  if (recipient != nullptr) {
    // Suite 3 (docs/SPEC.md, section 4b): `suite = 3` optional, no signers.
    const std::optional<std::string> name = recipient->value<std::string>();
    if (!name) return at(*recipient, "'recipient' must be a string");
    // Envelope v3 is suite 1's only: never a silently full-size recipient rule.
    if (const toml::node* n = rule.get("compact")) return at(*n, "'compact' needs suite 1 (a 'key' rule)");
    // With `signers`, suite 4 (signed and sealed, section 4c): `suite = 4` optional.
    const toml::node* list = rule.get("signers");
    const toml::node* suite_node = rule.get("suite");
    const bool four = list != nullptr || (suite_node != nullptr && suite_node->value_exact<int64_t>() == std::optional<int64_t>(4));
    if (suite_node != nullptr && suite_node->value_exact<int64_t>() != std::optional<int64_t>(four ? 4 : 3)) {
      return at(*suite_node, "a rule with a 'recipient' is 'suite = 3', or 'suite = 4' (with 'signers' or a {signer} level)");
    }
    std::optional<RetainedRule> retained;
    if (Status s = retained_rule(rule, retained); !s) return s;
    if (four) {
      std::vector<std::string> signers;
      if (list != nullptr) {
        if (Status s = signer_list(*list, signers); !s) return s;
      }
      added = policy.add_signed_recipient_rule(*filter, *name, std::move(signers), retained);
    } else {
      added = policy.add_recipient_rule(*filter, *name, retained);
    }
  } else if (key != nullptr) {
    const std::optional<std::string> name = key->value<std::string>();
    if (!name) return at(*key, "'key' must be a string");
    std::optional<RetainedRule> retained;
    if (Status s = retained_rule(rule, retained); !s) return s;
    Suite suite = Suite::symmetric;
    std::vector<std::string> signers;
    if (Status s = suite_and_signers(rule, suite, signers); !s) return s;
    bool compact = false;
    if (const toml::node* n = rule.get("compact")) {
      if (!n->is_boolean() || !n->as_boolean()->get()) return at(*n, "'compact' may only be true");
      if (suite != Suite::symmetric) return at(*n, "'compact' needs suite 1");
      compact = true;
    }
    if (suite == Suite::signed_sender) {
      added = policy.add_signed_rule(*filter, *name, std::move(signers), retained);
    } else if (suite == Suite::aes256gcm) {
      added = policy.add_aes256gcm_rule(*filter, *name, retained);
    } else if (compact) {
      added = policy.add_compact_rule(*filter, *name, retained);
    } else {
      added = retained ? policy.add_rule(*filter, *name, *retained) : policy.add_rule(*filter, *name);
    }
  } else {
    if (plaintext->value<bool>() != std::optional<bool>(true)) {
      return at(*plaintext, "'plaintext' may only be true");
    }
    if (rule.contains("retained") || rule.contains("retained_max_age_ms")) {
      return at(rule, "a plaintext rule has no retained policy: its messages pass through as they are");
    }
    if (rule.contains("suite") || rule.contains("signers") || rule.contains("compact")) {
      return at(rule, "a plaintext rule has no suite and no signers: its messages pass through as they are");
    }
    added = policy.add_plaintext_rule(*filter);
  }
  if (!added) return at(rule, added.error().message());
  return {};
}

}  // namespace

Result<TopicPolicy> parse_policy(std::string_view text) {
  if (text.size() > kMaxPolicyFileSize) return Error(Errc::parse_error, "policy file too large");
  if (text.substr(0, kUtf8Bom.size()) == kUtf8Bom) text.remove_prefix(kUtf8Bom.size());
  if (Status s = check_policy_subset(text); !s) return s.error();
  toml::table root;
  try {
    root = toml::parse(text);
  } catch (const toml::parse_error& e) {
    return Error(Errc::parse_error, "line " + std::to_string(e.source().begin.line) + ": " +
                                        std::string(e.description()));
  }
  for (const auto& [key, value] : root) {
    if (key != "version" && key != "rule") {
      return at(value, "unknown top-level field '" + std::string(key.str()) + "'");
    }
  }
  if (root.contains("version") && root["version"].value<int64_t>() != kPolicyFileVersion) {
    return at(*root.get("version"), "unsupported policy file version (this build reads 1)");
  }
  TopicPolicy policy;
  const toml::node* rules = root.get("rule");
  if (rules == nullptr) return policy;
  const toml::array* array = rules->as_array();
  if (array == nullptr || !array->is_array_of_tables()) {
    return at(*rules, "'rule' must be an array of tables ([[rule]])");
  }
  for (const toml::node& rule : *array) {
    if (Status s = add_rule(policy, *rule.as_table()); !s) return s.error();
  }
  return policy;
}

Result<TopicPolicy> load_policy(const std::string& path) {
  // The keyring's checks, except that all may read it (it holds no secret):
  // whoever can write a policy can make a topic plaintext or authorise a
  // signer, so a file group or others may write, or that neither this user
  // nor root owns, is refused (insecure_permissions); anything but a regular
  // file is io_error, opened without waiting (a FIFO has no writer).
  Result<internal::Secret> text = internal::read_secret_file(path, /*allow_insecure_permissions=*/true,
                                                             kMaxPolicyFileSize);
  if (!text) return std::move(text).error();
  Result<TopicPolicy> policy = parse_policy(text->text());
  if (!policy) {
    return Error(policy.error().code(), path + ": " + policy.error().detail());
  }
  return policy;
}

}  // namespace mqseal
