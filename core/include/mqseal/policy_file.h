// mqseal/policy_file.h: topic policies from TOML files (target mqseal::policy_file).
//
// A separate target so that device builds need not carry a TOML parser:
// device code can build its TopicPolicy in code. Format (docs/SPEC.md,
// "Policy file"):
//
//   version = 1
//
//   [[rule]]
//   filter = "plant/+/telemetry"
//   key = "telemetry"
//
//   [[rule]]
//   filter = "public/#"
//   plaintext = true
//
// Every rule has a filter and exactly one of `key` or `plaintext = true`: a
// rule with both is refused even with `plaintext = false`, and so is
// `plaintext = false` alone. Unknown tables or keys are refused, so a typo
// never silently widens what is sent in plaintext.
//
// A signed rule (suite 2) says `suite = 2` and who may sign: `signers`, names
// separated by commas, and/or a {signer} level in the filter:
//
//   [[rule]]
//   filter = "plant/{signer}/telemetry"   # each device only under its own level
//   key = "telemetry"
//   suite = 2
//
//   [[rule]]
//   filter = "plant/+/cmd/#"
//   key = "commands"
//   suite = 2
//   signers = "backend, ops-console"
//
// Only a subset of TOML is read, checked before the TOML parser sees the
// text: valid UTF-8, one `key = value`, `[[table]]` or comment per line, bare
// keys, one-line strings, decimal integers and booleans, non-ASCII only in
// strings and comments (docs/SPEC.md section 9 has the exact rules).
// Anything else is parse_error with its line.
#ifndef MQSEAL_POLICY_FILE_H_
#define MQSEAL_POLICY_FILE_H_

#include <string>
#include <string_view>

#include "mqseal/error.h"
#include "mqseal/policy.h"

namespace mqseal {

inline constexpr size_t kMaxPolicyFileSize = 1 << 20;

// parse_error (with the line and what is wrong) for every error, an invalid
// filter or key name and a repeated filter included.
[[nodiscard]] Result<TopicPolicy> parse_policy(std::string_view toml_text);
// As parse_policy, for the file at `path`: io_error if it cannot be opened
// or read, or is not a regular file (a FIFO or a device is refused without
// waiting); insecure_permissions if group or others may write it, or it is
// owned by neither the effective user nor root (whoever can write the
// policy chooses which topics are plaintext and who may sign: the rule of
// keyring files, docs/SPEC.md section 9; others may read it); parse_error
// if it is larger than kMaxPolicyFileSize. Checked with fstat on the opened
// file.
[[nodiscard]] Result<TopicPolicy> load_policy(const std::string& path);

}  // namespace mqseal

#endif  // MQSEAL_POLICY_FILE_H_
