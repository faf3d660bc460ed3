// mqseal keygen, mqseal keyring list|add|promote|retire, mqseal pubkey export|import.
#include <CLI/CLI.hpp>
#include <mqseal/keyring.h>

#include <algorithm>
#include <memory>
#include <string>

#include "common.h"

namespace mqseal::cli {
namespace {

// The kinds of key `keygen --type` and `keyring add --type` make.
constexpr const char* kTypeSymmetric = "symmetric";  // a 32-byte key under a key name (suite 1 and 2 payloads)
constexpr const char* kTypeSign = "sign";            // an Ed25519 key pair under a signer name (suite 2)
constexpr const char* kTypeRecipient = "recipient";  // an X25519 key pair (suite 3): not in this build yet

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
  if (args.type == kTypeRecipient) {
    return fail(Error(Errc::invalid_argument,
                      "--type recipient: recipient key pairs (suite 3) are not supported by this build"));
  }
  Result<Keyring> keys = create ? load_or_new_keyring(args.keyring) : Keyring::load(args.keyring);
  if (!keys) return fail(keys.error());
  Result<KeyId> id = args.type == kTypeSign ? keys->generate_signing_key(args.name) : keys->generate(args.name);
  if (!id) return fail(id.error());
  if (Status s = keys->save(args.keyring); !s) return fail(s.error());
  if (Result<KeyInfo> info = keys->info(*id); info && info->state != KeyState::primary) {
    note("the new key is active: it opens, and seals once promoted (mqseal keyring promote)");
  }
  if (Status s = write_stdout(key_id_hex(*id) + "\n"); !s) return fail(s.error());
  return kExitOk;
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
  if (Status s = promote ? keys->promote(id) : keys->retire(id); !s) {
    return fail(Error(s.error().code(), s.error().detail().empty() ? key_id_hex(id)
                                                                    : key_id_hex(id) + ": " + s.error().detail()));
  }
  if (Status s = keys->save(args.keyring); !s) return fail(s.error());
  return kExitOk;
}

// The public halves of every signing key pair and trusted signer key:
// Keyring::export_public(), a keyring file a receiver can import.
int export_public_keys(const KeyringArgs& args) {
  Result<Keyring> keys = Keyring::load(args.keyring);
  if (!keys) return fail(keys.error());
  const std::string text = keys->export_public();
  if (text.empty()) note("no signing key pair or trusted signer key in " + args.keyring + ": nothing to export");
  if (Status s = write_stdout(text); !s) return fail(s.error());
  return kExitOk;
}

// Adds the public keys of an exported file (export_public's format: only
// trusted-ed25519 lines) to KEYRING as trusted signers, same names and IDs.
// A key already held under the same ID, name and public key is left as it
// is; any other use of its ID is refused, and nothing is written. A retired
// line retires the trusted key of that ID if KEYRING holds one (revocation).
int import_public_keys(const KeyringArgs& args) {
  // Public keys only: the file may be readable by others; its owner must
  // still be this user or root, and group and others may not write it
  // (someone else could choose whom we trust): Keyring::load refuses both.
  Result<Keyring> imported = Keyring::load(args.file, LoadOptions{true});
  if (!imported) return fail(imported.error());
  Result<Keyring> keys = load_or_new_keyring(args.keyring);
  if (!keys) return fail(keys.error());
  size_t added = 0;
  for (const KeyInfo& k : imported->list()) {
    if (k.kind != KeyKind::trusted_signer) {
      return fail(Error(Errc::invalid_argument, args.file + ": holds a " + std::string(name(k.kind)) + " key (" +
                                                    key_id_hex(k.id) + "): not a public key export"));
    }
    Result<KeyInfo> held = keys->info(k.id);
    if (held) {
      const bool same = held->name == k.name && held->kind != KeyKind::symmetric &&
                        (k.state == KeyState::retired || held->state == KeyState::retired ||
                         held->public_key == k.public_key);
      if (!same) {
        return fail(Error(Errc::invalid_argument,
                          key_id_hex(k.id) + ": the keyring holds another key under this ID; nothing imported"));
      }
      if (k.state == KeyState::retired && held->kind == KeyKind::trusted_signer && held->state != KeyState::retired) {
        if (Status s = keys->retire(k.id); !s) return fail(s.error());
        note("retired trusted signer " + k.name + " " + key_id_hex(k.id));
      }
      continue;
    }
    if (k.state == KeyState::retired || !k.public_key) continue;  // nothing to trust
    if (Status s = keys->add_trusted_signer(k.name, k.id, ByteView(*k.public_key)); !s) return fail(s.error());
    if (Status s = write_stdout(k.name + " " + key_id_hex(k.id) + "\n"); !s) return fail(s.error());
    ++added;
  }
  if (added == 0) note("no new public key in " + args.file);
  if (Status s = keys->save(args.keyring); !s) return fail(s.error());
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
                    "name (suite 2); recipient: an X25519 key pair (suite 3, not in this build yet)")
        ->check(CLI::IsMember({kTypeSymmetric, kTypeSign, kTypeRecipient}));
  };
  CLI::App* keygen = app.add_subcommand(
      "keygen", "Add a fresh random key NAME to KEYRING (created, mode 0600, if missing); prints its ID");
  keygen->add_option("KEYRING", args->keyring, "keyring file")->required();
  keygen->add_option("NAME", args->name,
                     "key name as policies name it, or with --type sign the signer name ([A-Za-z0-9_.-]{1,64})")
      ->required();
  add_type_option(keygen);
  keygen->callback([args, &action] { action = [args] { return add_key(*args, true); }; });

  CLI::App* keyring = app.add_subcommand("keyring", "Inspect a keyring and rotate its keys");
  keyring->require_subcommand(1);

  CLI::App* list = keyring->add_subcommand(
      "list", "One line per key: name, ID, state, \"passphrase\" if derived from one, and the kind of a key "
              "that is not symmetric (signing, trusted_signer)");
  list->add_option("KEYRING", args->keyring, "keyring file")->required();
  list->callback([args, &action] { action = [args] { return list_keys(*args); }; });

  CLI::App* add = keyring->add_subcommand(
      "add", "Add a fresh random key NAME to an existing KEYRING; prints its ID");
  add->footer("The new key is primary if NAME has none, else active (it opens; promote it to seal).");
  add->add_option("KEYRING", args->keyring, "keyring file")->required();
  add->add_option("NAME", args->name, "key name (signer name with --type sign)")->required();
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

  CLI::App* pubkey = app.add_subcommand("pubkey", "Export and import signers' public keys (suite 2)");
  pubkey->require_subcommand(1);
  CLI::App* exported = pubkey->add_subcommand(
      "export", "Print the public halves of KEYRING's signing key pairs and trusted signer keys (a keyring "
                "file with no secret in it, for receivers to import)");
  exported->add_option("KEYRING", args->keyring, "keyring file")->required();
  exported->callback([args, &action] { action = [args] { return export_public_keys(*args); }; });
  CLI::App* imported = pubkey->add_subcommand(
      "import", "Trust the public keys in FILE (from pubkey export) as signers, same names and IDs, in KEYRING "
                "(created, mode 0600, if missing); prints the name and ID of each key added");
  imported->footer("A retired key in FILE retires (revokes) the trusted key of that ID in KEYRING.");
  imported->add_option("KEYRING", args->keyring, "keyring file")->required();
  imported->add_option("FILE", args->file, "exported public keys")->required();
  imported->callback([args, &action] { action = [args] { return import_public_keys(*args); }; });
}

}  // namespace mqseal::cli
