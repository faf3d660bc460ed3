// mqseal keygen, mqseal keyring list|add|promote|retire.
#include <CLI/CLI.hpp>
#include <mqseal/keyring.h>

#include <algorithm>
#include <memory>
#include <string>

#include "common.h"

namespace mqseal::cli {
namespace {

struct KeyringArgs {
  std::string keyring;
  std::string name;
  std::string id;  // hex, checked by KeyIdValidator
};

// Adds a fresh key under args.name; the file is created only if `create`.
int add_key(const KeyringArgs& args, bool create) {
  Result<Keyring> keys = create ? load_or_new_keyring(args.keyring) : Keyring::load(args.keyring);
  if (!keys) return fail(keys.error());
  Result<KeyId> id = keys->generate(args.name);
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
    if (k.passphrase) line += std::string(7 - std::string_view(name(k.state)).size(), ' ') + "  passphrase";
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

  CLI::App* keygen = app.add_subcommand(
      "keygen", "Add a fresh random key NAME to KEYRING (created, mode 0600, if missing); prints its ID");
  keygen->add_option("KEYRING", args->keyring, "keyring file")->required();
  keygen->add_option("NAME", args->name, "key name, as policies name it ([A-Za-z0-9_.-]{1,64})")->required();
  keygen->callback([args, &action] { action = [args] { return add_key(*args, true); }; });

  CLI::App* keyring = app.add_subcommand("keyring", "Inspect a keyring and rotate its keys");
  keyring->require_subcommand(1);

  CLI::App* list = keyring->add_subcommand(
      "list", "One line per key: name, ID, state, and \"passphrase\" if derived from one");
  list->add_option("KEYRING", args->keyring, "keyring file")->required();
  list->callback([args, &action] { action = [args] { return list_keys(*args); }; });

  CLI::App* add = keyring->add_subcommand(
      "add", "Add a fresh random key NAME to an existing KEYRING; prints its ID");
  add->footer("The new key is primary if NAME has none, else active (it opens; promote it to seal).");
  add->add_option("KEYRING", args->keyring, "keyring file")->required();
  add->add_option("NAME", args->name, "key name")->required();
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
}

}  // namespace mqseal::cli
