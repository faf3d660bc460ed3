// mqseal seal, mqseal open, mqseal inspect.
#include <CLI/CLI.hpp>
#include <mqseal/clock.h>
#include <mqseal/envelope.h>
#include <mqseal/keyring.h>
#include <mqseal/opener.h>
#include <mqseal/policy_file.h>
#include <mqseal/sealer.h>

#include <cstdio>
#include <ctime>
#include <memory>
#include <string>

#include "base/hex.h"
#include "common.h"

namespace mqseal::cli {
namespace {

constexpr uint64_t kMsPerSecond = 1000;

struct EnvelopeArgs {
  std::string keyring;
  std::string policy;
  std::string topic;
  std::string signer;   // seal: the signer name for signed rules (empty: the keyring's only one)
  bool retain = false;  // seal: the envelope will be published with the retain flag
};

// The policy and the keyring a Sealer or Opener needs.
struct Loaded {
  TopicPolicy policy;
  std::shared_ptr<const Keyring> keys;
};

Result<Loaded> load(const EnvelopeArgs& args) {
  Result<TopicPolicy> policy = load_policy(args.policy);
  if (!policy) return std::move(policy).error();
  Result<Keyring> keys = Keyring::load(args.keyring);
  if (!keys) return std::move(keys).error();
  return Loaded{std::move(*policy), std::make_shared<const Keyring>(std::move(*keys))};
}

bool plaintext_topic(const TopicPolicy& policy, std::string_view topic) {
  Result<const TopicRule*> rule = policy.resolve(topic);
  return rule && (*rule)->plaintext;
}

int seal_stdin(const EnvelopeArgs& args) {
  Result<Loaded> loaded = load(args);
  if (!loaded) return fail(loaded.error());
  SealerOptions options;
  options.signer = args.signer;
  Result<Sealer> sealer = Sealer::create(loaded->policy, loaded->keys, std::move(options));
  if (!sealer) return fail(sealer.error());
  std::vector<uint8_t> payload;
  if (Status s = read_stdin(kMaxPayloadSize, payload); !s) return fail(s.error());
  Result<std::vector<uint8_t>> envelope =
      sealer->seal(args.topic, ByteView(payload), args.retain ? Publish::retained : Publish::live);
  if (!envelope) return fail(envelope.error());
  if (plaintext_topic(loaded->policy, args.topic)) {
    note("a plaintext rule covers " + args.topic + ": the payload is passed through unsealed");
  }
  if (Status s = write_stdout(ByteView(*envelope)); !s) return fail(s.error());
  return kExitOk;
}

int open_stdin(const EnvelopeArgs& args) {
  Result<Loaded> loaded = load(args);
  if (!loaded) return fail(loaded.error());
  Result<Opener> opener = Opener::create(loaded->policy, loaded->keys);
  if (!opener) return fail(opener.error());
  std::vector<uint8_t> envelope;
  if (Status s = read_stdin(kMaxEnvelopeSize, envelope); !s) return fail(s.error());
  Result<Opened> opened = opener->open(args.topic, ByteView(envelope));
  if (!opened) return fail(opened.error());
  if (!opened->sealed) note("a plaintext rule covers " + args.topic + ": the payload was not sealed");
  if (!opened->signer.empty()) {
    std::fprintf(stderr, "mqseal: %s%s\n", std::string(kSignerField).c_str(), opened->signer.c_str());
  }
  if (Status s = write_stdout(ByteView(opened->payload)); !s) return fail(s.error());
  return kExitOk;
}

// "2023-11-14T22:13:20.123Z", or "out of range" for a year gmtime cannot give.
std::string utc_iso8601(uint64_t timestamp_ms) {
  const auto seconds = static_cast<std::time_t>(timestamp_ms / kMsPerSecond);
  std::tm tm{};
  char text[64];
  // timestamp_ms / kMsPerSecond always fits a 64-bit time_t; gmtime_r refuses years it cannot represent.
  if (::gmtime_r(&seconds, &tm) == nullptr ||
      std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
    return "out of range";
  }
  char millis[8];
  std::snprintf(millis, sizeof millis, ".%03uZ", static_cast<unsigned>(timestamp_ms % kMsPerSecond));
  return std::string(text) + millis;
}

// The suite byte's meaning, after the number.
const char* suite_description(uint8_t suite) {
  switch (suite) {
    case kSuiteXChaCha20Poly1305: return " (XChaCha20-Poly1305)";
    case kSuiteSignedSender: return " (signed sender: Ed25519, XChaCha20-Poly1305)";
    case kSuiteSealedToRecipient: return " (sealed to a recipient: X25519, XChaCha20-Poly1305)";
    case kSuiteSignedSealed: return " (signed, then sealed to a recipient: Ed25519, X25519, XChaCha20-Poly1305)";
    case kSuiteAes256Gcm: return " (AES-256-GCM)";
  }
  return "";
}

// The timestamp lines. Envelope v3 carries only the seconds modulo 2^24: the
// full time is what a receiver reconstructs from its own clock (SPEC 4d), so
// inspect shows the field and the time it stands for against this machine's
// clock, and says so.
std::string timestamp_lines(const EnvelopeHeader& header) {
  if (header.version != kEnvelopeVersionCompact) {
    return "timestamp  " + std::to_string(header.timestamp_ms) + " ms (" + utc_iso8601(header.timestamp_ms) + ")\n";
  }
  const uint64_t field = header.timestamp_ms / kMsPerSecond;
  std::string out = "time_s     " + std::to_string(field) + " (seconds since 1970 mod 2^24: all that v3 sends)\n";
  const uint64_t full = compact_timestamp_ms(header.timestamp_ms, system_time_ms());
  if (full == 0) return out + "timestamp  no such second before this machine's clock allows\n";
  return out + "timestamp  " + std::to_string(full) + " ms (" + utc_iso8601(full) +
         ") by this machine's clock: the latest such second at most 2^20 s ahead of it\n";
}

int inspect_stdin() {
  std::vector<uint8_t> envelope;
  if (Status s = read_stdin(kMaxEnvelopeSize, envelope); !s) return fail(s.error());
  Result<EnvelopeHeader> header = parse_header(ByteView(envelope));
  if (!header) return fail(header.error());
  const bool compact = header->version == kEnvelopeVersionCompact;
  const bool recipient = header->suite == kSuiteSealedToRecipient || header->suite == kSuiteSignedSealed;
  const char* intent = header->version == kEnvelopeVersionV1 ? "(v1: not recorded)"
                       : (header->flags & kFlagRetain) != 0  ? "sealed to be retained"
                                                              : "sealed as live";
  std::string out = "version    " + std::to_string(header->version) + (compact ? " (compact)" : "") + "\n";
  out += "suite      " + std::to_string(header->suite) + suite_description(header->suite) + "\n";
  out += std::string("retain     ") + intent + "\n";
  out += "key ID     " + key_id_hex(header->key_id) + (recipient ? " (the recipient's key)" : "") + "\n";
  if (header->suite == kSuiteSignedSender) out += "signer ID  " + key_id_hex(header->signer_key_id) + "\n";
  if (recipient) out += "ephemeral  " + internal::hex_encode(ByteView(header->ephemeral)) + "\n";
  if (header->suite == kSuiteSignedSealed) out += "signer     inside the ciphertext: only the recipient learns it\n";
  out += timestamp_lines(*header);
  if (compact) {
    out += "session    " + internal::hex_encode(ByteView(header->sender.data(), kCompactSessionSize)) + "\n";
  } else {
    out += "sender     " + internal::hex_encode(ByteView(header->sender)) + "\n";
  }
  out += "sequence   " + std::to_string(header->sequence) + "\n";
  out += "payload    " + std::to_string(envelope.size() - envelope_overhead(header->version, header->suite)) +
         " bytes\n";
  if (Status s = write_stdout(std::string_view(out)); !s) return fail(s.error());
  return kExitOk;
}

}  // namespace

void add_envelope_commands(CLI::App& app, Action& action) {
  auto args = std::make_shared<EnvelopeArgs>();

  CLI::App* seal = app.add_subcommand("seal", "Seal the payload on stdin for TOPIC; the envelope goes to stdout");
  CLI::App* open = app.add_subcommand(
      "open", "Open the envelope on stdin for TOPIC; the payload goes to stdout if every check passes, and for a "
              "signed rule (suites 2 and 4) the verified signer's name to stderr: \"mqseal: signer=NAME\"");
  for (CLI::App* cmd : {seal, open}) {
    cmd->add_option("--keyring", args->keyring, "keyring file")->required();
    cmd->add_option("--policy", args->policy, "policy file (TOML)")->required();
    cmd->add_option("TOPIC", args->topic, "the MQTT topic")->required();
  }
  seal->add_option("--signer", args->signer,
                   "signed rules (suites 2 and 4): sign as this signer name (default: the keyring's only signer name)");
  seal->add_flag("--retain", args->retain,
                  "the envelope will be published with the retain flag (the intent is sealed in)");
  seal->callback([args, &action] { action = [args] { return seal_stdin(*args); }; });
  open->callback([args, &action] { action = [args] { return open_stdin(*args); }; });

  CLI::App* inspect = app.add_subcommand(
      "inspect", "Print the header of the envelope on stdin: a signed envelope's signer key ID, a recipient "
                 "envelope's recipient key ID and ephemeral public key, a compact envelope's time as sent (seconds "
                 "mod 2^24) and as read against this machine's clock (no key: nothing shown is authenticated)");
  inspect->callback([&action] { action = [] { return inspect_stdin(); }; });
}

}  // namespace mqseal::cli
