// mqseal provision, mqseal token: CONNECT credentials for devices without TLS.
#include <CLI/CLI.hpp>
#include <mqseal/credentials.h>
#include <mqseal/key.h>
#include <mqseal/keyring.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "common.h"
#include "files/file_io.h"
#include "files/secret_file.h"

namespace mqseal::cli {
namespace {

// provision writes the device keyring here first (see provision_device).
constexpr std::string_view kStagedSuffix = ".provisioning";

struct ProvisionArgs {
  std::string username;
  std::string device_keyring;
  std::string credentials;
  uint64_t opslimit = 0;  // 0: PassphraseParams::generate()'s
  uint64_t memlimit = 0;
};

struct TokenArgs {
  std::string device_keyring;
  std::string username;
  std::string client_id;
  uint64_t lifetime_s = kDefaultTokenLifetimeS;
};

Result<Credentials> load_or_new_credentials(const std::string& path) {
  if (missing(path)) return Credentials();
  return Credentials::load(path);
}

// True if the credentials file at `path` has a record for `username` now.
bool holds_user(const std::string& path, const std::string& username) {
  Result<Credentials> on_disk = Credentials::load(path);
  return on_disk && on_disk->find(username) != nullptr;
}

KeyId fresh_key_id(const Keyring& keys) {
  KeyId id = 0;
  do {
    id = randombytes_random();
  } while (id == 0 || keys.info(id));
  return id;
}

// True if `a` and `b` name one file: the same path once `.`, `..` and links
// are resolved (whether or not it exists yet), or one existing file (a hard
// link).
bool same_file(const std::string& a, const std::string& b) {
  std::error_code a_error;
  std::error_code b_error;
  const std::filesystem::path a_path = std::filesystem::weakly_canonical(a, a_error);
  const std::filesystem::path b_path = std::filesystem::weakly_canonical(b, b_error);
  if (!a_error && !b_error && a_path == b_path) return true;
  struct stat a_stat {};
  struct stat b_stat {};
  return ::stat(a.c_str(), &a_stat) == 0 && ::stat(b.c_str(), &b_stat) == 0 && a_stat.st_dev == b_stat.st_dev &&
         a_stat.st_ino == b_stat.st_ino;
}

int provision_device(const ProvisionArgs& args) {
  if (sodium_init() < 0) return fail(Errc::crypto_failure);
  // Two files: the broker's record in the device's keyring, or the device
  // secret in the broker's file, is what the split exists to prevent.
  const std::string staged = args.device_keyring + std::string(kStagedSuffix);
  if (same_file(args.device_keyring, args.credentials) || same_file(staged, args.credentials)) {
    std::fprintf(stderr,
                 "mqseal: --device-keyring and --credentials name the same file (%s): the device's secret and the "
                 "broker's record go to two files\n",
                 args.credentials.c_str());
    return kExitUsage;
  }
  // The keyring is renamed into place below, which would replace a link with
  // a new file: the broker would hold the user, the keyring the device reads
  // (the link's target) never its secret. Every other save refuses a link too.
  if (Status s = internal::refuse_symbolic_link(args.device_keyring); !s) return fail(s.error());
  // Left by a provision a power loss cut short after the broker's file was
  // written: the only copy of that device's secret. Never overwritten.
  if (struct stat st {}; ::lstat(staged.c_str(), &st) == 0) {
    return fail(Error(Errc::io_error, staged + " exists: a provision that did not finish left it, and the broker's " +
                                          "file may hold its user already; rename it to " + args.device_keyring +
                                          " (or remove it if it holds nothing needed), then provision again"));
  }
  // Every check that needs no password comes first.
  Result<Credentials> credentials = load_or_new_credentials(args.credentials);
  if (!credentials) return fail(credentials.error());
  if (credentials->find(args.username) != nullptr) {
    return fail(Error(Errc::invalid_argument, "user " + args.username + " exists already in " + args.credentials));
  }
  Result<Keyring> keys = load_or_new_keyring(args.device_keyring);
  if (!keys) return fail(keys.error());
  Result<PassphraseParams> params = PassphraseParams::generate();
  if (!params) return fail(params.error());
  if (args.opslimit != 0) params->opslimit = args.opslimit;
  if (args.memlimit != 0) params->memlimit = args.memlimit;
  if (!params->valid()) return fail(Error(Errc::invalid_argument, "--opslimit or --memlimit out of Argon2id's range"));

  Result<Provisioned> provisioned = [&]() -> Result<Provisioned> {
    Result<internal::Secret> password = read_password("Password for " + args.username);
    if (!password) return std::move(password).error();
    return provision(args.username, password->text(), *params);
  }();
  if (!provisioned) return fail(provisioned.error());

  const std::optional<KeyId> previous = [&]() -> std::optional<KeyId> {
    Result<KeyId> p = keys->primary(kConnectKeyName);
    return p ? std::optional<KeyId>(*p) : std::nullopt;
  }();
  const KeyId id = fresh_key_id(*keys);
  if (Status s = keys->add_with_id(kConnectKeyName, id, std::move(provisioned->device_secret), *params); !s) {
    return fail(s.error());
  }
  if (previous) {
    if (Status s = keys->promote(id); !s) return fail(s.error());
  }
  if (Status added = credentials->add(provisioned->record); !added) return fail(added.error());

  // Both files or neither: the device's keyring goes to a temporary file
  // beside it, the broker's file is written, then the keyring is renamed into
  // place. If the broker's file cannot be written, the keyring is left as it
  // was (before, it kept the new key and a second attempt added another).
  // Each step is durable (its directory fsynced) before the next: a power
  // loss leaves neither, both, or the broker's file with KEYRING.provisioning
  // beside the old keyring (rename it into place).
  const auto neither = [&](const Error& e) {
    ::unlink(staged.c_str());  // there too if only its directory's fsync failed
    return fail(Error(e.code(), "neither file was written; " + e.detail()));
  };
  if (Status s = keys->save(staged); !s) return neither(s.error());
  std::optional<Error> not_durable;
  if (Status s = credentials->save(args.credentials); !s) {
    // Only the directory's fsync failed if the new file is in place: then the
    // keyring follows too (both files, not one), and the error is reported.
    if (!holds_user(args.credentials, args.username)) return neither(s.error());
    not_durable = s.error();
  }
  if (std::rename(staged.c_str(), args.device_keyring.c_str()) != 0) {
    return fail(Error(Errc::io_error, "the broker's credentials now hold " + args.username +
                                          ", but the device keyring could not be renamed from " + staged +
                                          " to " + args.device_keyring + ": " + std::strerror(errno) +
                                          "; rename it by hand"));
  }
  if (!internal::sync_directory(internal::directory_of(args.device_keyring))) {
    not_durable = Error(Errc::io_error, args.device_keyring + " has the new key, but its directory could not be " +
                                            "synced (" + std::strerror(errno) + "): a power loss may still undo it");
  }
  if (not_durable) {
    return fail(Error(Errc::io_error, "both files hold " + args.username + " now; " + not_durable->detail()));
  }
  if (previous) {
    note("the previous connect key " + key_id_hex(*previous) +
         " is now active; retire it with: mqseal keyring retire " + args.device_keyring + " " +
         key_id_hex(*previous));
  }
  return print_saved_key_id(id, args.device_keyring);
}

int print_token(const TokenArgs& args) {
  Result<Keyring> keys = Keyring::load(args.device_keyring);
  if (!keys) return fail(keys.error());
  Result<std::string> token = make_connect_token(*keys, kConnectKeyName, args.username, args.client_id, args.lifetime_s);
  if (!token) return fail(token.error());
  if (Status s = write_stdout(*token + "\n"); !s) return fail(s.error());
  return kExitOk;
}

}  // namespace

void add_device_commands(CLI::App& app, Action& action) {
  auto provision_args = std::make_shared<ProvisionArgs>();
  CLI::App* provision_cmd = app.add_subcommand(
      "provision", "Provision a device: password on stdin, secret to its keyring, record to the broker's");
  provision_cmd->footer(
      "Reads the device password from stdin (one line; on a terminal, prompted for twice without echo),\n"
      "never from the command line. Adds the device secret to the device keyring as the primary key\n"
      "\"connect\" and the broker's record to the credentials file (each created, mode 0600, if missing);\n"
      "prints the new key ID. Refuses a username the credentials file has already. Writes both files or\n"
      "neither: if the credentials file cannot be written, the device keyring is left as it was. Each file\n"
      "is synced to disk with its directory; if a directory cannot be synced, provision fails (3) and\n"
      "says whether it wrote both files or neither (both: a power loss may still undo them). Refuses (3)\n"
      "a device keyring that is a symbolic link, and one with KEYRING.provisioning beside it (left by a\n"
      "provision a power loss cut short: rename it into place).");
  provision_cmd->add_option("USERNAME", provision_args->username, "MQTT username ([A-Za-z0-9_.@:-]{1,128})")
      ->required();
  provision_cmd->add_option("--device-keyring", provision_args->device_keyring, "the device's keyring file")
      ->required();
  provision_cmd->add_option("--credentials", provision_args->credentials, "the broker's credentials file")
      ->required();
  provision_cmd->add_option("--opslimit", provision_args->opslimit, "Argon2id passes (default: libsodium INTERACTIVE)")
      ->check(CLI::PositiveNumber);
  provision_cmd->add_option("--memlimit", provision_args->memlimit, "Argon2id memory in bytes (default: 64 MiB)")
      ->check(CLI::PositiveNumber);
  provision_cmd->callback(
      [provision_args, &action] { action = [provision_args] { return provision_device(*provision_args); }; });

  auto token_args = std::make_shared<TokenArgs>();
  CLI::App* token_cmd = app.add_subcommand(
      "token", "Print a fresh CONNECT token (MQTT password) for USERNAME and CLIENT_ID (debugging)");
  token_cmd->add_option("--device-keyring", token_args->device_keyring,
                        "the device's keyring file (its primary key \"connect\")")
      ->required();
  token_cmd->add_option("USERNAME", token_args->username, "MQTT username")->required();
  token_cmd->add_option("CLIENT_ID", token_args->client_id, "MQTT client ID")->required();
  token_cmd->add_option("--lifetime", token_args->lifetime_s,
                        "seconds the token is valid (brokers refuse more than their limit, 3600 by default)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  token_cmd->callback([token_args, &action] { action = [token_args] { return print_token(*token_args); }; });
}

}  // namespace mqseal::cli
