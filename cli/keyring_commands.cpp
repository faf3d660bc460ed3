// mqseal keygen, mqseal keyring list|add|promote|retire, mqseal pubkey export|import.
#include <CLI/CLI.hpp>
#include <mqseal/keyring.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>

#include "common.h"

namespace mqseal::cli {
namespace {

// The kinds of key `keygen --type` and `keyring add --type` make.
constexpr const char* kTypeSymmetric = "symmetric";  // a 32-byte key under a key name (suite 1 and 2 payloads)
constexpr const char* kTypeSign = "sign";            // an Ed25519 key pair under a signer name (suite 2)
constexpr const char* kTypeRecipient = "recipient";  // an X25519 key pair under a recipient name (suites 3 and 4)

struct KeyringArgs {
  std::string keyring;
  std::string name;
  std::string id;    // hex, checked by KeyIdValidator
  std::string type = kTypeSymmetric;
  std::string file;  // pubkey import: the exported public keys
};

// Adds a fresh key (or key pair) of args.type under args.name; the file is
// created only if `create`.
int add_key(const KeyringArgs& args, bool create) {
  Result<Keyring> keys = create ? load_or_new_keyring(args.keyring) : Keyring::load(args.keyring);
  if (!keys) return fail(keys.error());
  Result<KeyId> id = args.type == kTypeSign        ? keys->generate_signing_key(args.name)
                     : args.type == kTypeRecipient ? keys->generate_recipient_key(args.name)
                                                   : keys->generate(args.name);
  if (!id) return fail(id.error());
  if (Status s = keys->save(args.keyring); !s) return fail(s.error());
  if (Result<KeyInfo> info = keys->info(*id); info && info->state != KeyState::primary) {
    note("the new key is active: it opens, and seals once promoted (mqseal keyring promote)");
  }
  return print_saved_key_id(*id, args.keyring);
}

// The kind and state of key `id` in `keys`, if it holds it.
std::optional<KeyInfo> held_key(const Keyring& keys, KeyId id) {
  Result<KeyInfo> info = keys.info(id);
  if (!info) return std::nullopt;
  return *info;
}

// An error about key `id`: "ID: why".
int fail_on(KeyId id, const Error& error) {
  return fail(Error(error.code(), error.detail().empty() ? key_id_hex(id) : key_id_hex(id) + ": " + error.detail()));
}

int list_keys(const KeyringArgs& args) {
  Result<Keyring> keys = Keyring::load(args.keyring);
  if (!keys) return fail(keys.error());
  const std::vector<KeyInfo> infos = keys->list();
  size_t width = 0;
  for (const KeyInfo& k : infos) width = std::max(width, k.name.size());
  std::string out;
  for (const KeyInfo& k : infos) {
    std::string line = k.name + std::string(width - k.name.size(), ' ') + "  " + key_id_hex(k.id) + "  " +
                       name(k.state);
    const std::string pad(7 - std::string_view(name(k.state)).size(), ' ');
    if (k.passphrase) line += pad + "  passphrase";
    if (k.kind != KeyKind::symmetric) line += pad + "  " + name(k.kind);
    out += line + "\n";
  }
  if (Status s = write_stdout(out); !s) return fail(s.error());
  return kExitOk;
}

int change_state(const KeyringArgs& args, bool promote) {
  Result<Keyring> keys = Keyring::load(args.keyring);
  if (!keys) return fail(keys.error());
  const KeyId id = *parse_key_id(args.id);  // the validator accepted it
  if (Status s = promote ? keys->promote(id) : keys->retire(id); !s) return fail_on(id, s.error());
  if (Status s = keys->save(args.keyring); !s) return fail(s.error());
  return kExitOk;
}

// The public halves of every signing key pair, trusted signer key, recipient
// key pair and recipient public key: Keyring::export_public(), a keyring file
// receivers (of signed messages) and devices (sealing to a recipient) import.
int export_public_keys(const KeyringArgs& args) {
  Result<Keyring> keys = Keyring::load(args.keyring);
  if (!keys) return fail(keys.error());
  const std::string text = keys->export_public();
  if (Status s = write_stdout(text); !s) return fail(s.error());
  const std::vector<KeyInfo> held = keys->list();
  if (std::none_of(held.begin(), held.end(), [](const KeyInfo& k) { return k.kind != KeyKind::symmetric; })) {
    note("no signing or recipient key in " + args.keyring + ": nothing to export");
  }
  return kExitOk;
}

// Whether `k`, a line of an export, says the same about its ID as `held`, the
// key KEYRING holds under that ID: same name and kind of public key, and the
// same public key unless one of the two is retired (no key to compare).
bool same_key(const KeyInfo& k, const KeyInfo& held) {
  const bool kind = k.kind == KeyKind::trusted_signer
                        ? held.kind == KeyKind::trusted_signer || held.kind == KeyKind::signing
                        : held.kind == KeyKind::recipient_public || held.kind == KeyKind::recipient;
  return held.name == k.name && kind &&
         (k.state == KeyState::retired || held.state == KeyState::retired || held.public_key == k.public_key);
}

// Adds the public keys of an exported file (export_public's format:
// trusted-ed25519 and recipient-public-x25519 lines) to KEYRING, same names
// and IDs: signers' keys as trusted signers, recipients' as recipient public
// keys (what a device seals to). A key already held under the same ID, name
// and public key is left as it is; any other use of its ID is refused, and
// nothing is written. A retired trusted signer line retires (revokes) the
// trusted key of that ID, or is kept as a retired ID if KEYRING never held it
// (envelopes naming it: key_retired). A primary recipient line becomes the
// primary of its name (the recipient rotated: devices seal to the new key);
// a retired one retires the recipient public key of that ID.
int import_public_keys(const KeyringArgs& args) {
  // Public keys only: the file may be readable by others; its owner must
  // still be this user or root, and group and others may not write it
  // (someone else could choose whom we trust, or whom we seal to):
  // Keyring::load refuses both.
  Result<Keyring> imported = Keyring::load(args.file, LoadOptions{true});
  if (!imported) return fail(imported.error());
  Result<Keyring> keys = load_or_new_keyring(args.keyring);
  if (!keys) return fail(keys.error());
  const std::vector<KeyInfo> lines = imported->list();
  for (const KeyInfo& k : lines) {
    if (k.kind != KeyKind::trusted_signer && k.kind != KeyKind::recipient_public) {
      return fail(Error(Errc::invalid_argument, args.file + ": holds a " + std::string(name(k.kind)) + " key (" +
                                                    key_id_hex(k.id) + "): not a public key export"));
    }
    Result<KeyInfo> held = keys->info(k.id);
    if (held && !same_key(k, *held)) {
      return fail(Error(Errc::invalid_argument,
                        key_id_hex(k.id) + ": the keyring holds another key under this ID; nothing imported"));
    }
  }
  // Added first, then made primary, then retired: a recipient's export lists
  // the key it retires before the one that replaces it as primary.
  size_t added = 0;
  std::string out;
  for (const KeyInfo& k : lines) {
    if (keys->info(k.id)) continue;
    Status s;
    if (k.state == KeyState::retired) {
      if (k.kind != KeyKind::trusted_signer) continue;  // never sealed to here: nothing to keep
      s = keys->add_retired_trusted_signer(k.name, k.id);
    } else if (k.kind == KeyKind::trusted_signer) {
      s = keys->add_trusted_signer(k.name, k.id, ByteView(*k.public_key));
    } else {
      s = keys->add_recipient_public(k.name, k.id, ByteView(*k.public_key));
    }
    if (!s) return fail(s.error());
    if (k.state == KeyState::retired) {
      note("trusted signer " + k.name + " " + key_id_hex(k.id) + " is known as retired only");
      continue;
    }
    out += k.name + " " + key_id_hex(k.id) + "\n";
    ++added;
  }
  for (const KeyInfo& k : lines) {
    const std::optional<KeyInfo> held = held_key(*keys, k.id);
    if (k.state != KeyState::primary || !held || held->kind != KeyKind::recipient_public ||
        held->state != KeyState::active) {
      continue;
    }
    if (Status s = keys->promote(k.id); !s) return fail_on(k.id, s.error());
    note("recipient " + k.name + " " + key_id_hex(k.id) + " is now the one sealed to");
  }
  for (const KeyInfo& k : lines) {
    const std::optional<KeyInfo> held = held_key(*keys, k.id);
    if (k.state != KeyState::retired || !held || held->state == KeyState::retired) continue;
    // Only what was imported is retired here, never this keyring's own key pairs.
    const bool trusted = held->kind == KeyKind::trusted_signer;
    if (!trusted && held->kind != KeyKind::recipient_public) continue;
    if (Status s = keys->retire(k.id); !s) return fail_on(k.id, s.error());
    note(std::string(trusted ? "retired trusted signer " : "retired recipient public key ") + k.name + " " +
         key_id_hex(k.id));
  }
  if (added == 0) note("no new public key in " + args.file);
  if (Status s = keys->save(args.keyring); !s) return fail(s.error());
  if (Status s = write_stdout(out); !s) return fail(s.error());
  return kExitOk;
}

const CLI::Validator& key_id_validator() {
  static const CLI::Validator validator(
      [](std::string& text) -> std::string {
        return parse_key_id(text) ? std::string() : "not a key ID (1 to 8 hex digits, not 0): " + text;
      },
      "HEX");
  return validator;
}

}  // namespace

void add_keyring_commands(CLI::App& app, Action& action) {
  auto args = std::make_shared<KeyringArgs>();

  const auto add_type_option = [&args](CLI::App* cmd) {
    cmd->add_option("--type", args->type,
                    "symmetric (default): a key for a key name; sign: an Ed25519 signing key pair for a signer "
                    "name (suite 2); recipient: an X25519 key pair for a recipient name (suites 3 and 4: what is sealed "
                    "to its public half, only it opens)")
        ->check(CLI::IsMember({kTypeSymmetric, kTypeSign, kTypeRecipient}));
  };
  CLI::App* keygen = app.add_subcommand(
      "keygen", "Add a fresh random key NAME to KEYRING (created, mode 0600, if missing); prints its ID");
  keygen->add_option("KEYRING", args->keyring, "keyring file")->required();
  keygen->add_option("NAME", args->name,
                     "key name as policies name it, with --type sign the signer name, with --type recipient the "
                     "recipient name ([A-Za-z0-9_.-]{1,64})")
      ->required();
  add_type_option(keygen);
  keygen->callback([args, &action] { action = [args] { return add_key(*args, true); }; });

  CLI::App* keyring = app.add_subcommand("keyring", "Inspect a keyring and rotate its keys");
  keyring->require_subcommand(1);

  CLI::App* list = keyring->add_subcommand(
      "list", "One line per key: name, ID, state, \"passphrase\" if derived from one, and the kind of a key "
              "that is not symmetric (signing, trusted_signer, recipient, recipient_public)");
  list->add_option("KEYRING", args->keyring, "keyring file")->required();
  list->callback([args, &action] { action = [args] { return list_keys(*args); }; });

  CLI::App* add = keyring->add_subcommand(
      "add", "Add a fresh random key NAME to an existing KEYRING; prints its ID");
  add->footer("The new key is primary if NAME has none, else active (it opens; promote it to seal).");
  add->add_option("KEYRING", args->keyring, "keyring file")->required();
  add->add_option("NAME", args->name, "key name (signer name with --type sign, recipient name with --type recipient)")
      ->required();
  add_type_option(add);
  add->callback([args, &action] { action = [args] { return add_key(*args, false); }; });

  CLI::App* promote = keyring->add_subcommand(
      "promote", "Make key ID the primary of its name; the old primary becomes active");
  promote->add_option("KEYRING", args->keyring, "keyring file")->required();
  promote->add_option("ID", args->id, "key ID in hex")->required()->check(key_id_validator());
  promote->callback([args, &action] { action = [args] { return change_state(*args, true); }; });

  CLI::App* retire = keyring->add_subcommand(
      "retire", "Wipe key ID's bytes, keeping its ID (envelopes naming it: key retired)");
  retire->add_option("KEYRING", args->keyring, "keyring file")->required();
  retire->add_option("ID", args->id, "key ID in hex")->required()->check(key_id_validator());
  retire->callback([args, &action] { action = [args] { return change_state(*args, false); }; });

  CLI::App* pubkey = app.add_subcommand("pubkey", "Export and import public keys: signers' (suites 2 and 4) and recipients' (suites 3 and 4)");
  pubkey->require_subcommand(1);
  CLI::App* exported = pubkey->add_subcommand(
      "export", "Print the public halves of KEYRING's signing and recipient key pairs and of the public keys it "
                "holds (a keyring file with no secret in it: receivers import signers' keys, devices the "
                "recipient's)");
  exported->add_option("KEYRING", args->keyring, "keyring file")->required();
  exported->callback([args, &action] { action = [args] { return export_public_keys(*args); }; });
  CLI::App* imported = pubkey->add_subcommand(
      "import", "Add the public keys in FILE (from pubkey export) to KEYRING (created, mode 0600, if missing), "
                "same names and IDs: signers' keys as trusted signers, recipients' keys as keys to seal to; "
                "prints the name and ID of each key added");
  imported->footer(
      "FILE may be readable by others, but not writable by group or others, and may hold no secret.\n"
      "A retired signer key in FILE retires (revokes) the trusted key of that ID in KEYRING, or is kept\n"
      "as a retired ID if KEYRING never held it. A recipient's primary key in FILE becomes the one\n"
      "KEYRING seals to; a retired one is retired in KEYRING.");
  imported->add_option("KEYRING", args->keyring, "keyring file")->required();
  imported->add_option("FILE", args->file, "exported public keys")->required();
  imported->callback([args, &action] { action = [args] { return import_public_keys(*args); }; });
}

}  // namespace mqseal::cli
