// Shared by the mqseal command line tool's commands: exit codes, error
// reporting, files, standard input and output.
#ifndef MQSEAL_CLI_COMMON_H_
#define MQSEAL_CLI_COMMON_H_

#include <mqseal/bytes.h>
#include <mqseal/error.h>
#include <mqseal/keyring.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/secret.h"

namespace CLI {
class App;
}

namespace mqseal::cli {

// The exit codes `mqseal --help` documents.
enum ExitCode : int {
  kExitOk = 0,
  kExitFailed = 1,  // the operation was refused or failed (an mqseal error)
  kExitUsage = 2,   // the command line is wrong (CLI11 says how)
  kExitIo = 3,      // a file is missing, unreadable, unwritable or not 0600
  kExitTimeout = 4, // mqseal sub: its -W time ran out
};

// The key name under which a device keyring keeps its device secret
// (provision writes it; token, pub and sub make CONNECT tokens from it).
inline constexpr std::string_view kConnectKeyName = "connect";

// How open (on stderr) and sub -v (on each line) name the verified signer of
// a message on a signed rule (suites 2 and 4): "signer=NAME". A signer name
// is a key name ([A-Za-z0-9_.-]): nothing in it needs escaping.
inline constexpr std::string_view kSignerField = "signer=";

// What main() runs once the command line is parsed: set by the callback of
// the subcommand that was given.
using Action = std::function<int()>;

// Each command group adds its subcommands to `app`; the chosen one sets `action`.
void add_keyring_commands(CLI::App& app, Action& action);
void add_device_commands(CLI::App& app, Action& action);
void add_envelope_commands(CLI::App& app, Action& action);
// mqseal sub and mqseal pub (built with mqseal::paho: MQSEAL_CLI_MQTT).
void add_mqtt_commands(CLI::App& app, Action& action);

// Prints "mqseal: <message>" to stderr and returns the exit code for it:
// kExitIo for io_error and insecure_permissions, kExitFailed otherwise.
int fail(const Error& error);
// Prints "mqseal: note: <text>" to stderr.
void note(const std::string& text);

// Keyring::load (a parse error names the path and line), or an empty keyring
// if nothing exists at `path`.
Result<Keyring> load_or_new_keyring(const std::string& path);
// True if nothing (not even a dangling link) exists at `path`.
bool missing(const std::string& path);

// Key IDs on the command line: 1 to 8 hex digits, optionally after 0x, not 0.
std::optional<KeyId> parse_key_id(std::string_view text);
std::string key_id_hex(KeyId id);  // always 8 lower-case digits

// All of standard input (binary): io_error if it cannot be read,
// payload_too_large if it holds more than max_size bytes.
Status read_stdin(size_t max_size, std::vector<uint8_t>& out);
// Writes to standard output and flushes; io_error on failure.
Status write_stdout(ByteView bytes);
// Prints the ID of a key already saved in `keyring` (keygen, keyring add,
// provision): kExitOk, or, if standard output fails, kExitIo with the ID on
// standard error (a key ID is no secret) and a warning that the key exists:
// run again, the command would add a second key.
int print_saved_key_id(KeyId id, const std::string& keyring);

inline constexpr size_t kMaxPasswordSize = 1024;

// One line from standard input (the trailing newline, and a \r before it,
// removed), in guarded memory. When standard input is a terminal, prompts on
// stderr with "<prompt>: " and reads without echo, twice, to confirm. Never
// from argv. invalid_argument for more than kMaxPasswordSize bytes.
Result<internal::Secret> read_password(const std::string& prompt);

}  // namespace mqseal::cli

#endif  // MQSEAL_CLI_COMMON_H_
