// mqseal_auth.so: a mosquitto 2.0 plugin (API version 5) that logs devices in
// with mqseal CONNECT tokens, and optionally refuses unsealed payloads on
// protected topics. mosquitto.conf:
//
//   plugin /usr/lib/mqseal/mqseal_auth.so
//   plugin_opt_credentials_file /etc/mosquitto/mqseal.credentials
//   plugin_opt_max_clock_skew 30            (seconds, 0 to 3600; optional)
//   plugin_opt_max_token_lifetime 3600      (seconds, 1 to 86400; optional)
//   plugin_opt_max_tokens_per_user 64       (1 to 65536; optional: live tokens remembered per
//                                            device, docs/SPEC.md section 11)
//   plugin_opt_replay_store file:/var/lib/mqseal/replay   (optional; default memory;
//                                            or redis://127.0.0.1:6379/0, shared by brokers)
//   plugin_opt_replay_namespace plant-a     (optional, with redis:// only; default mqseal)
//   plugin_opt_protected_topics plant/#, factory/+/cmd/#   (optional)
//   plugin_opt_client_ids own               (optional; the default: below)
//   plugin_opt_max_devices 1000             (optional, for a file or Redis store: devices a reload may bring)
//
// Every option and its range: the table under "Options" below. A bad option
// stops the broker from starting, with a log line naming it. A reload
// (SIGHUP) reads the credentials file again: on_reload; connected devices
// still in it stay connected, and sessions kept for their ended connections
// stay (Plugin::connected, Plugin::offline).
//
// Users in the credentials file must present a valid token; anyone else is
// deferred to mosquitto's own checks (password_file, other plugins), so
// existing users keep working. Client IDs belong to devices (client_ids own,
// the default): mosquitto gives a client ID, and its persistent session, to
// the newest login presenting it, so a device's ID is kept for that device.
// A client ID belongs to the provisioned device whose username it is, or
// whose username and '/' it starts with (device-7, device-7/sensor;
// usernames hold no '/', docs/SPEC.md, so at most one device owns an ID). A
// device logs in only with an ID it owns; any other login (another device, a
// password_file user, an anonymous client) presenting a device's ID is
// refused. With `use_username_as_clientid true` mosquitto sets every ID to
// the username before the plugin sees it, which this rule accepts.
// client_ids any: no such rule; any login that passes can take any device's
// ID and session (docs/SECURITY.md).
// Every refusal logs one line saying which check failed, never a secret. On
// protected topics a publish whose payload is not a well-formed mqseal
// envelope is refused: the broker cannot read sealed payloads, but it can
// refuse plaintext where only sealed data belongs.
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>
#include <pwd.h>
#include <sodium.h>
#include <unistd.h>

#include <mqseal/credentials.h>
#include <mqseal/envelope.h>
#include <mqseal/replay_store.h>
#include <mqseal/topic.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <iterator>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace {

constexpr int kPluginApiVersion = 5;
constexpr size_t kMaxLoggedChars = 64;
constexpr size_t kLoginDigestSize = crypto_generichash_BYTES;  // 32
// Logins of one device's connections that ended, remembered at once
// (Plugin::offline), at most: each device has its own bound, so that no
// device's many connections can make another's be forgotten. Past it, a
// further ended connection of that device is not remembered, and the device
// is marked (Plugin::overflowed): at the next reload every session of it
// that mosquitto re-checks is let stay, not refused. A refused session is
// ended by mosquitto 2.0.11 a second time, which puts it on the session
// expiry list twice: once taken over and freed, the broker read freed
// memory (valgrind), from one device's own connections and a SIGHUP.
constexpr size_t kMaxOfflineLoginsPerDevice = 32;

using LoginDigest = std::array<unsigned char, kLoginDigestSize>;

struct Plugin {
  mosquitto_plugin_id_t* id = nullptr;
  std::unique_ptr<mqseal::TokenVerifier> verifier;
  std::vector<std::string> protected_filters;
  bool any_client_id = false;  // plugin_opt_client_ids any: no client ID belongs to a device
  // What a reload (SIGHUP) needs to make the verifier again from the
  // credentials file: the file, its load options, and the verifier's options
  // with the replay store, which the new verifier shares with the old one
  // (what was accepted before the reload stays accepted once).
  std::string credentials_file;
  mqseal::LoadOptions load_options;
  mqseal::VerifierOptions verifier_options;
  // The connections this plugin let in, by mosquitto's client object: a
  // keyed digest of the username, client ID and token each logged in with,
  // until mosquitto reports it disconnected (one entry per connected device).
  // At a reload mosquitto asks the basic-auth check again for every
  // connected client, with the token it logged in with, used once already:
  // the same connection presenting the same login is let stay, instead of
  // being refused as a replay (which disconnected every device at each
  // SIGHUP). A device no longer in the credentials file is not: it is
  // deferred to mosquitto as any unknown user, and disconnected.
  std::unordered_map<const mosquitto*, LoginDigest> connected;
  // Sessions outlive connections (MQTT 3.1.1 clean session 0, MQTT 5
  // session expiry), and mosquitto checks those of ended connections again
  // at a reload too. Refusing one (its token is used) made mosquitto end
  // that ended connection a second time, which puts its session on the
  // expiry list twice. So the login of every connection that ended is kept
  // here by client ID (mosquitto keeps one session per ID) and accepted only
  // while mosquitto re-checks at a reload: between on_reload and the next
  // tick, when mosquitto handles no new CONNECT on a TCP listener, and never
  // from a live websockets connection (its loop serves those in between:
  // on_basic_auth, docs/SECURITY.md, the reload row). After the re-check, logins
  // it did not ask about (sessions gone) are forgotten. At most
  // kMaxOfflineLoginsPerDevice per device (offline_per_device).
  struct OfflineLogin {
    LoginDigest digest{};
    std::string device;              // the username it logged in with
    uint64_t checked_at_reload = 0;  // the number of the last reload that asked for it
  };
  std::unordered_map<std::string, OfflineLogin> offline;
  std::unordered_map<std::string, size_t> offline_per_device;
  // Devices with ended connections past kMaxOfflineLoginsPerDevice, and the
  // number of the last reload that let one of their sessions stay: kept
  // while reloads still ask for them, forgotten at the tick as `offline`.
  // At most one entry per device in the credentials file.
  std::unordered_map<std::string, uint64_t> overflowed;
  bool reloading = false;  // from on_reload to the next tick: mosquitto re-checking its clients
  uint64_t reloads = 0;
  std::array<unsigned char, crypto_generichash_KEYBYTES> digest_key{};
};

void forget_offline(Plugin& plugin, std::unordered_map<std::string, Plugin::OfflineLogin>::iterator& it) {
  const auto count = plugin.offline_per_device.find(it->second.device);
  if (count != plugin.offline_per_device.end() && --count->second == 0) plugin.offline_per_device.erase(count);
  it = plugin.offline.erase(it);
}

// Remembers the login of an ended connection under its client ID, unless its
// device has kMaxOfflineLoginsPerDevice remembered already.
void remember_offline(Plugin& plugin, const std::string& client_id, const std::string& device,
                      const LoginDigest& digest) {
  if (auto it = plugin.offline.find(client_id); it != plugin.offline.end()) forget_offline(plugin, it);
  size_t& count = plugin.offline_per_device[device];
  if (count >= kMaxOfflineLoginsPerDevice) {
    if (plugin.verifier->knows(device)) plugin.overflowed[device] = plugin.reloads;
    return;
  }
  ++count;
  plugin.offline.emplace(client_id, Plugin::OfflineLogin{digest, device, 0});
}

LoginDigest login_digest(const Plugin& plugin, const char* username, std::string_view client_id,
                         const char* password) {
  LoginDigest digest{};
  crypto_generichash_state state;
  crypto_generichash_init(&state, plugin.digest_key.data(), plugin.digest_key.size(), digest.size());
  for (const std::string_view part : {std::string_view(username), client_id,
                                      std::string_view(password != nullptr ? password : "")}) {
    const uint64_t size = part.size();  // length-prefixed: no two logins give the same input
    crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(&size), sizeof size);
    crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(part.data()), part.size());
  }
  crypto_generichash_final(&state, digest.data(), digest.size());
  sodium_memzero(&state, sizeof state);
  return digest;
}

// For log lines: printable ASCII only, at most kMaxLoggedChars characters.
std::string printable(const char* text) {
  if (text == nullptr) return "(none)";
  std::string out;
  for (const char* p = text; *p != '\0' && out.size() < kMaxLoggedChars; ++p) {
    const auto c = static_cast<unsigned char>(*p);
    out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
  }
  if (std::strlen(text) > kMaxLoggedChars) out += "...";
  return out;
}

// mosquitto.conf has no comments after a value: in "VALUE   # why" the '#'
// and all after it are part of the value. Said when such a value is refused
// (empty if no '#' in the value follows a blank).
std::string comment_hint(std::string_view value) {
  if (value.find(" #") == std::string_view::npos && value.find("\t#") == std::string_view::npos) return {};
  return " (mosquitto.conf has no comment after a value: the '#' and what follows are part of it)";
}

// A file the plugin could not open, or refused (credentials file, replay
// store file, at `path`): the error, and which user mosquitto runs as.
// Started as root, mosquitto switches to its `user` (mosquitto by default)
// before it loads plugins and reloads as that user, so the files must be
// that user's (README, "Broker plugin"); "Permission denied" alone puzzles an
// operator who is root.
std::string file_error(const mqseal::Error& error, std::string_view path) {
  std::string text = error.message();
  if (const std::string hint = comment_hint(path); !hint.empty()) return text + hint;
  if (error != mqseal::Errc::io_error && error != mqseal::Errc::insecure_permissions) return text;
  const uid_t uid = geteuid();
  const struct passwd* user = getpwuid(uid);  // mosquitto calls plugins from one thread
  return text + " (mosquitto runs as user '" + printable(user != nullptr ? user->pw_name : "?") + "', uid " +
         std::to_string(uid) + ")";
}

// The provisioned device a client ID belongs to (client_ids own): the ID's
// part before its first '/' (all of it, without one) if that is a username
// in the credentials; else empty. Usernames hold no '/', so this part is the
// only one that can be: one hash lookup, O(length of the ID), however many
// devices there are. It asks the verifier a reload made, so it follows the
// credentials file.
std::string_view device_owning(const mqseal::TokenVerifier& verifier, std::string_view client_id) {
  const std::string_view head = client_id.substr(0, client_id.find('/'));
  return !head.empty() && verifier.knows(head) ? head : std::string_view();
}

// Every refusal: one log line saying which check failed (never a secret),
// and MOSQ_ERR_AUTH: refused, not deferred to mosquitto's other checks.
int refuse(int level, const char* username, const char* client_id, const std::string& why) {
  mosquitto_log_printf(level, "mqseal: refused CONNECT of user '%s' (client '%s'): %s", printable(username).c_str(),
                       printable(client_id).c_str(), why.c_str());
  return MOSQ_ERR_AUTH;
}

int on_basic_auth(int, void* event_data, void* userdata) {
  const auto* event = static_cast<const mosquitto_evt_basic_auth*>(event_data);
  auto* plugin = static_cast<Plugin*>(userdata);
  // mosquitto has set the client ID by now: one it made up for an empty one
  // (auto_id_prefix, a device owns none unless the prefix says so), the
  // username with use_username_as_clientid.
  const char* client_id = mosquitto_client_id(event->client);
  const std::string_view id = client_id != nullptr ? client_id : "";
  const bool managed = event->username != nullptr && plugin->verifier->knows(event->username);
  if (!plugin->any_client_id) {
    const std::string_view owner = device_owning(*plugin->verifier, id);
    if (!owner.empty() && (event->username == nullptr || owner != event->username)) {
      return refuse(MOSQ_LOG_NOTICE, event->username, client_id,
                    "the client ID belongs to device '" + printable(std::string(owner).c_str()) +
                        "' (plugin_opt_client_ids own)");
    }
    if (managed && owner.empty()) {
      return refuse(MOSQ_LOG_NOTICE, event->username, client_id,
                    "a device's client ID must be its username or start with its username and '/' "
                    "(plugin_opt_client_ids own)");
    }
  }
  // A session whose connection ended, checked at a reload, is let stay below
  // (refused, mosquitto 2.0.11 would end the ended connection again and put
  // its session on the expiry list twice: kMaxOfflineLoginsPerDevice). So is
  // one of a device removed from the credentials file since: mosquitto keeps
  // it either way until it expires, and only a new login reaches it.
  const bool recheck = plugin->reloading && mosquitto_client_protocol(event->client) != mp_websockets;
  // Users the credentials do not hold are not ours: mosquitto's own checks
  // (password_file, other plugins) decide, whatever their password looks like.
  if (!managed) {
    const auto it =
        recheck && event->username != nullptr ? plugin->offline.find(std::string(id)) : plugin->offline.end();
    if (it != plugin->offline.end()) {
      const LoginDigest digest = login_digest(*plugin, event->username, id, event->password);
      if (sodium_memcmp(it->second.digest.data(), digest.data(), digest.size()) == 0) {
        it->second.checked_at_reload = plugin->reloads;
        return MOSQ_ERR_SUCCESS;
      }
    }
    return MOSQ_ERR_PLUGIN_DEFER;
  }
  const LoginDigest digest = login_digest(*plugin, event->username, id, event->password);
  if (const auto it = plugin->connected.find(event->client);
      it != plugin->connected.end() && sodium_memcmp(it->second.data(), digest.data(), digest.size()) == 0) {
    return MOSQ_ERR_SUCCESS;  // mosquitto checking a connection it has again (a reload): the login it made
  }
  // A session whose connection ended, checked at a reload: the login it made.
  // Not a client on a live websockets connection: mosquitto serves those
  // between the reload and the tick (lws_service), so that is a new CONNECT
  // (a captured one was accepted again), never the re-check of an ended
  // connection's session (mosquitto clears a websockets client's connection
  // when it closes).
  if (recheck) {
    if (const auto it = plugin->offline.find(std::string(id));
        it != plugin->offline.end() && sodium_memcmp(it->second.digest.data(), digest.data(), digest.size()) == 0) {
      it->second.checked_at_reload = plugin->reloads;
      return MOSQ_ERR_SUCCESS;
    }
    // A session of a device past its bound of remembered ended connections:
    // no new CONNECT can be judged here (no TCP one in the window, no
    // websockets one above), so this is mosquitto's re-check of a session
    // it keeps for an ended connection. Refusing it would make mosquitto
    // end that connection again (kMaxOfflineLoginsPerDevice).
    if (const auto it = plugin->overflowed.find(event->username); it != plugin->overflowed.end()) {
      it->second = plugin->reloads;
      return MOSQ_ERR_SUCCESS;
    }
  }
  const mqseal::Status verdict =
      plugin->verifier->verify(event->username, id, event->password != nullptr ? event->password : "");
  if (verdict) {
    plugin->connected[event->client] = digest;
    if (auto it = plugin->offline.find(std::string(id)); it != plugin->offline.end()) forget_offline(*plugin, it);
    return MOSQ_ERR_SUCCESS;
  }
  if (verdict.error().code() == mqseal::Errc::io_error) {
    // The replay store could not remember the token (a full disk, a failed
    // sync; Redis unreachable, slow past its timeout, or answering an
    // error): refused (fail closed), and the operator must hear of it. The
    // detail names the store file or the Redis server and the reason, never
    // a secret (no password). Connected clients are not affected; a Redis
    // store connects again at a later login, so logins resume with Redis.
    return refuse(MOSQ_LOG_ERR, event->username, client_id, "the replay store: " + verdict.error().message());
  }
  std::string why = mqseal::name(verdict.error().code());
  // A token out of its time window: most often a device clock that is off.
  if (verdict.error() == mqseal::Errc::expired) {
    why += " (the token expired more than plugin_opt_max_clock_skew ago: is the device's clock behind the broker's?)";
  } else if (verdict.error() == mqseal::Errc::not_yet_valid) {
    why += " (the token expires more than plugin_opt_max_token_lifetime + plugin_opt_max_clock_skew from now: is the "
           "device's clock ahead of the broker's?)";
  }
  return refuse(MOSQ_LOG_NOTICE, event->username, client_id, why);
}

// mosquitto's configuration reload (SIGHUP): the credentials file is read
// again, so that devices provisioned (or removed) since take effect without a
// restart, which would forget every token the memory store remembers. The
// replay store is kept: a token accepted before the reload is still refused
// after it. A file that cannot be loaded, or more devices than the store was
// sized for (a file or Redis store: users x max_tokens_per_user at start),
// keeps the devices loaded before, with a log line saying why. Other options
// take effect at the next restart.
// What on_reload answers: mosquitto 2.0.11 goes on to the other plugins'
// reload callbacks, and then initialises the older plugins again, only if
// this callback defers (security__init_single); any other answer is taken as
// the result of the whole step, cutting it short. mosquitto's next minor
// version (2.1, its develop branch read on 2026-12-02) ignores the answer
// (plugin__security_init_single) and keeps the order the reload window below
// relies on: every reload callback, then the re-check of every client's login
// (mosquitto_security_apply_default), within one pass of the main loop.
constexpr int kReloadHandled = MOSQ_ERR_PLUGIN_DEFER;

int on_reload(int, void*, void* userdata) {
  auto* plugin = static_cast<Plugin*>(userdata);
  plugin->reloading = true;  // until the next tick: mosquitto re-checks every client's login now
  ++plugin->reloads;
  mosquitto_log_printf(MOSQ_LOG_INFO,
                       "mqseal: reload: %zu device connections, %zu ended ones' logins (checked again by mosquitto next)",
                       plugin->connected.size(), plugin->offline.size());
  auto credentials = mqseal::Credentials::load(plugin->credentials_file, plugin->load_options);
  if (!credentials) {
    mosquitto_log_printf(MOSQ_LOG_ERR, "mqseal: reload: plugin_opt_credentials_file: %s (the devices loaded before stay)",
                         file_error(credentials.error(), plugin->credentials_file).c_str());
    return kReloadHandled;
  }
  const size_t users = credentials->size();
  auto verifier = mqseal::TokenVerifier::create(std::move(*credentials), plugin->verifier_options);
  if (!verifier) {
    mosquitto_log_printf(MOSQ_LOG_ERR, "mqseal: reload: %zu devices: %s (the devices loaded before stay; restart to "
                         "size the replay store for them, or give plugin_opt_max_devices room for more)",
                         users, verifier.error().message().c_str());
    return kReloadHandled;
  }
  *plugin->verifier = std::move(*verifier);
  mosquitto_log_printf(MOSQ_LOG_INFO, "mqseal: reload: %zu devices", users);
  return kReloadHandled;
}

int on_disconnect(int, void* event_data, void* userdata) {
  const auto* event = static_cast<const mosquitto_evt_disconnect*>(event_data);
  auto* plugin = static_cast<Plugin*>(userdata);
  const auto it = plugin->connected.find(event->client);
  if (it == plugin->connected.end()) return MOSQ_ERR_SUCCESS;
  // Its session may live on: its login is accepted at a reload's re-check.
  const char* id = mosquitto_client_id(event->client);
  const char* username = mosquitto_client_username(event->client);
  if (id != nullptr && username != nullptr) remember_offline(*plugin, id, username, it->second);
  plugin->connected.erase(it);
  return MOSQ_ERR_SUCCESS;
}

// The first tick after a reload: mosquitto has re-checked every client (it
// did so before handling anything else). The logins of ended connections it
// did not ask about belong to sessions that are gone: forgotten.
int on_tick(int, void*, void* userdata) {
  auto* plugin = static_cast<Plugin*>(userdata);
  if (!plugin->reloading) return MOSQ_ERR_SUCCESS;
  plugin->reloading = false;
  for (auto it = plugin->offline.begin(); it != plugin->offline.end();) {
    if (it->second.checked_at_reload == plugin->reloads) {
      ++it;
    } else {
      forget_offline(*plugin, it);
    }
  }
  for (auto it = plugin->overflowed.begin(); it != plugin->overflowed.end();) {
    it = it->second == plugin->reloads ? std::next(it) : plugin->overflowed.erase(it);
  }
  return MOSQ_ERR_SUCCESS;
}

int on_acl_check(int, void* event_data, void* userdata) {
  const auto* event = static_cast<const mosquitto_evt_acl_check*>(event_data);
  const auto* plugin = static_cast<const Plugin*>(userdata);
  if (event->access != MOSQ_ACL_WRITE || event->topic == nullptr) return MOSQ_ERR_PLUGIN_DEFER;
  for (const std::string& filter : plugin->protected_filters) {
    if (!mqseal::topic_matches(filter, event->topic)) continue;
    if (mqseal::parse_header(mqseal::ByteView(event->payload, event->payloadlen))) return MOSQ_ERR_PLUGIN_DEFER;
    mosquitto_log_printf(MOSQ_LOG_NOTICE, "mqseal: refused an unsealed %u-byte publish on protected topic '%s' from '%s'",
                         static_cast<unsigned>(event->payloadlen), printable(event->topic).c_str(),
                         printable(mosquitto_client_id(event->client)).c_str());
    return MOSQ_ERR_ACL_DENIED;
  }
  return MOSQ_ERR_PLUGIN_DEFER;
}

// ---- Options: plugin_opt_NAME VALUE lines in mosquitto.conf ----
//
// Every option, with its range (README, "Broker plugin", lists the same):
//
//   credentials_file            path of the credentials file; required
//   allow_insecure_permissions  true or false (default false): load a
//                               credentials file group or others may read
//   max_clock_skew              seconds, 0 to 3600 (default 30)
//   max_token_lifetime          seconds, 1 to 86400 (default 3600)
//   max_tokens_per_user         1 to 65536 (default 64): live tokens
//                               remembered per device; a device whose own
//                               fill it is refused until one expires
//   protected_topics            1 to 256 topic filters separated by commas;
//                               blanks around each are ignored, an empty one
//                               is an error (default: none). The plugin then
//                               answers mosquitto's ACL checks, refusing or
//                               passing on: mosquitto 2.0 denies what no
//                               acl_file (or other plugin) allows
//   replay_store                where accepted tokens are remembered
//                               (mqseal/replay_store.h): `memory` (default:
//                               single use until the broker stops) or
//                               `file:/absolute/path` (single use across
//                               restarts of this broker; the file holds at
//                               most users x max_tokens_per_user live
//                               tokens, 72 bytes each, and twice that in
//                               records), or
//                               `redis://[[user]:password@]host[:port][/db]`
//                               (single use across every broker sharing
//                               that Redis: mqseal/replay_store.h; room for
//                               users x max_tokens_per_user live tokens;
//                               connect and command timeouts 250 ms each;
//                               the broker does not start if Redis cannot
//                               be reached then; a core built without Redis
//                               refuses it; log lines show it with all
//                               between :// and the last '@' as ***; any
//                               other value starting with redis is refused
//                               unechoed)
//   client_ids                  `own` (default): a client ID that is a
//                               device's username, or starts with it and
//                               '/', belongs to that device: a device logs
//                               in only with an ID it owns, and every other
//                               login presenting a device's ID is refused.
//                               `any`: no such rule (any login that passes
//                               can take any device's ID and session)
//   max_devices                 1 to 1000000 (default: the devices in the
//                               credentials file at start): a file or Redis
//                               replay store is sized for this many devices
//                               (or those at start, if more) x
//                               max_tokens_per_user, so a reload (SIGHUP)
//                               can bring devices provisioned since, up to
//                               it; no effect on the memory store
//   replay_namespace            with a redis:// store only: the deployment
//                               namespace its keys start with, 1 to 64 of
//                               A-Z a-z 0-9 . _ - (default mqseal); brokers
//                               that must share claims give the same one
//
// Numbers are decimal digits only: no sign, no blank, nothing after them.
// An unknown option, a repeated one, or a value out of its range stops the
// broker from starting, with a log line that names the option.
//
// Adding an option is one line in kOptions (and its field in Settings).

constexpr size_t kMaxProtectedFilters = 256;
constexpr uint64_t kMaxSkew = mqseal::kMaxClockSkewLimitS;     // 3600 s
constexpr uint64_t kMaxLife = mqseal::kMaxTokenLifetimeLimitS;  // 86400 s
constexpr uint64_t kMaxTokens = mqseal::kMaxTokensPerUserLimit;  // 65536
constexpr uint64_t kMaxDevices = 1'000'000;  // what a credentials file holds (docs/SPEC.md section 11)

struct Settings {
  std::string credentials_file;
  bool allow_insecure = false;
  mqseal::VerifierOptions verifier;
  std::vector<std::string> protected_filters;
  bool any_client_id = false;
  size_t max_devices = 0;    // 0: the devices at start
  std::string replay_file;   // empty: the in-memory store (or Redis)
  std::string replay_redis;  // a redis:// URL (its password in it), or empty: wiped
  std::string replay_namespace;
  Settings() = default;
  Settings(const Settings&) = delete;
  Settings& operator=(const Settings&) = delete;
  ~Settings() { wipe_replay_redis(); }
  // Once the store has it (hiredis keeps its own copy of the password, for
  // AUTH on each reconnect, as long as the store lives).
  void wipe_replay_redis() noexcept { sodium_memzero(replay_redis.data(), replay_redis.size()); }
};

// Empty if `value` is good (and then stored), else what is wrong with it.
using Text = std::string_view;
using OptionParser = std::string (*)(Text value, Settings& settings);

struct Option {
  std::string_view name;
  OptionParser parse;
};

template <typename Integer>
std::string number(std::string_view value, uint64_t min, uint64_t max, Integer& out) {
  const std::string range = "a whole number from " + std::to_string(min) + " to " + std::to_string(max);
  const bool digits_only = !value.empty() && std::all_of(value.begin(), value.end(), [](char c) {
    return c >= '0' && c <= '9';
  });
  uint64_t n = 0;
  if (!digits_only) return "not " + range + " (digits only)";
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (ec != std::errc() || end != value.data() + value.size() || n < min || n > max) {
    return "out of range: " + range;
  }
  out = static_cast<Integer>(n);
  return {};
}

std::string boolean(std::string_view value, bool& out) {
  if (value != "true" && value != "false") return "neither true nor false";
  out = value == "true";
  return {};
}

std::string client_ids(std::string_view value, bool& any) {
  if (value != "own" && value != "any") return "neither own nor any";
  any = value == "any";
  return {};
}

std::string path(std::string_view value, std::string& out) {
  if (value.empty()) return "empty";
  out = std::string(value);
  return {};
}

std::string_view trim_blanks(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string filter_list(std::string_view value, std::vector<std::string>& out) {
  std::vector<std::string> filters;
  for (;;) {
    const size_t comma = value.find(',');
    const std::string_view item = trim_blanks(value.substr(0, comma));
    if (item.empty()) return "an empty topic filter (a comma too many, or none at all)";
    const std::string filter(item);
    if (!mqseal::validate_filter(filter)) return "'" + printable(filter.c_str()) + "' is not a topic filter";
    if (filters.size() == kMaxProtectedFilters) {
      return "more than " + std::to_string(kMaxProtectedFilters) + " topic filters";
    }
    filters.push_back(filter);
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  out = std::move(filters);
  return {};
}

constexpr std::string_view kFileStorePrefix = "file:";

constexpr std::string_view kRedisStorePrefix = "redis";  // redis:// (and rediss://, which the store refuses)

std::string replay_store(std::string_view value, Settings& settings) {
  if (value == "memory") return {};
  if (value.substr(0, kFileStorePrefix.size()) == kFileStorePrefix) {
    const std::string_view path = value.substr(kFileStorePrefix.size());
    if (path.empty() || path.front() != '/') return "file: takes an absolute path (file:/var/lib/mqseal/replay)";
    settings.replay_file = std::string(path);
    return {};
  }
  if (value.substr(0, kRedisStorePrefix.size()) == kRedisStorePrefix) {
    // redis:/, redis:, Redis:// ...: a typo whose text may hold a password.
    if (value.find("://") != kRedisStorePrefix.size() && value.find("://") != kRedisStorePrefix.size() + 1) {
      return "not a redis:// URL (redis://[[user]:password@]host[:port][/db])";
    }
    settings.replay_redis = std::string(value);  // checked part by part when the store is opened
    return {};
  }
  return "neither memory, file:/absolute/path nor redis://host:port/db";
}

// A value for log lines: everything between "://" and the last '@' (a
// redis:// URL's user:password, which may hold '/' and '@') as ***; with an
// '@' but no "://" before it (a typo such as redis:/:password@host),
// everything before the last '@'. With no '@', everything after "://" (a
// user:password typed without its @host) or, in a redis: typo, after
// "redis"; a value with neither (a number, a file: path) is shown.
std::string without_password(const std::string& url) {
  const size_t at = url.rfind('@');
  const size_t start = url.find("://");
  if (at == std::string::npos) {
    if (start != std::string::npos) return printable((url.substr(0, start + 3) + "***").c_str());
    if (url.compare(0, kRedisStorePrefix.size(), kRedisStorePrefix) == 0) {
      return std::string(kRedisStorePrefix) + "***";
    }
    return printable(url.c_str());
  }
  if (start == std::string::npos || start > at) return printable(("***" + url.substr(at)).c_str());
  return printable((url.substr(0, start + 3) + "***" + url.substr(at)).c_str());
}

constexpr Option kOptions[] = {
    {"credentials_file", [](Text v, Settings& s) { return path(v, s.credentials_file); }},
    {"allow_insecure_permissions", [](Text v, Settings& s) { return boolean(v, s.allow_insecure); }},
    {"max_clock_skew", [](Text v, Settings& s) { return number(v, 0, kMaxSkew, s.verifier.max_clock_skew_s); }},
    {"max_token_lifetime", [](Text v, Settings& s) { return number(v, 1, kMaxLife, s.verifier.max_lifetime_s); }},
    {"max_tokens_per_user",
     [](Text v, Settings& s) { return number(v, 1, kMaxTokens, s.verifier.max_tokens_per_user); }},
    {"protected_topics", [](Text v, Settings& s) { return filter_list(v, s.protected_filters); }},
    {"client_ids", [](Text v, Settings& s) { return client_ids(v, s.any_client_id); }},
    {"replay_store", [](Text v, Settings& s) { return replay_store(v, s); }},
    {"replay_namespace", [](Text v, Settings& s) { return path(v, s.replay_namespace); }},
    {"max_devices", [](Text v, Settings& s) { return number(v, 1, kMaxDevices, s.max_devices); }},
};

// Reads the plugin_opt_ lines into the plugin; logs and returns false on
// anything wrong.
bool configure(Plugin& plugin, const mosquitto_opt* options, int count) {
  Settings settings;
  bool seen[std::size(kOptions)] = {};
  for (int i = 0; i < count; ++i) {
    const std::string_view key = options[i].key != nullptr ? options[i].key : "";
    const std::string_view value = options[i].value != nullptr ? options[i].value : "";
    const Option* option = std::find_if(std::begin(kOptions), std::end(kOptions),
                                        [&](const Option& o) { return o.name == key; });
    if (option == std::end(kOptions)) {
      mosquitto_log_printf(MOSQ_LOG_ERR, "mqseal: unknown option plugin_opt_%s", printable(options[i].key).c_str());
      return false;
    }
    const std::string name(option->name);
    bool& given = seen[option - std::begin(kOptions)];
    if (given) {
      mosquitto_log_printf(MOSQ_LOG_ERR, "mqseal: plugin_opt_%s is given more than once", name.c_str());
      return false;
    }
    given = true;
    if (const std::string wrong = option->parse(value, settings); !wrong.empty()) {
      mosquitto_log_printf(MOSQ_LOG_ERR, "mqseal: bad plugin_opt_%s '%s': %s%s", name.c_str(),
                           without_password(std::string(value)).c_str(), wrong.c_str(), comment_hint(value).c_str());
      return false;
    }
  }
  if (settings.credentials_file.empty()) {
    mosquitto_log_printf(MOSQ_LOG_ERR, "mqseal: plugin_opt_credentials_file is required");
    return false;
  }
  auto credentials = mqseal::Credentials::load(settings.credentials_file, {settings.allow_insecure});
  if (!credentials) {
    mosquitto_log_printf(MOSQ_LOG_ERR, "mqseal: plugin_opt_credentials_file: %s",
                         file_error(credentials.error(), settings.credentials_file).c_str());
    return false;
  }
  const size_t users = credentials->size();
  std::shared_ptr<mqseal::ReplayStore> replay_store;  // null: an in-memory store (below)
  if (!settings.replay_namespace.empty() && settings.replay_redis.empty()) {
    mosquitto_log_printf(MOSQ_LOG_ERR, "mqseal: plugin_opt_replay_namespace is only for a redis:// replay store");
    return false;
  }
  std::string store_description = "memory";
  // A store's room: every user's quota, so that no device can fill it for
  // the others (for max_devices users, if more: a reload may bring them); 0
  // (logged) if more than the store holds.
  const size_t quota = settings.verifier.max_tokens_per_user;
  const size_t sized_for = std::max(users, settings.max_devices);
  auto room = [&](size_t most, const char* store) -> size_t {
    if (sized_for <= most / quota) return std::max<size_t>(sized_for * quota, 1);
    mosquitto_log_printf(MOSQ_LOG_ERR,
                         "mqseal: plugin_opt_replay_store: %zu devices x max_tokens_per_user %zu is more than a %s "
                         "holds (%zu): lower plugin_opt_max_tokens_per_user (or plugin_opt_max_devices)",
                         sized_for, quota, store, most);
    return 0;
  };
  if (!settings.replay_file.empty()) {
    const size_t capacity = room(mqseal::kMaxFileReplayCapacity, "replay store file");
    if (capacity == 0) return false;
    auto store = mqseal::open_file_replay_store(settings.replay_file, mqseal::FileReplayStoreOptions{capacity});
    if (!store) {
      mosquitto_log_printf(MOSQ_LOG_ERR, "mqseal: plugin_opt_replay_store: %s",
                           file_error(store.error(), settings.replay_file).c_str());
      return false;
    }
    store_description = "file " + printable(settings.replay_file.c_str()) + " (" +
                        std::to_string((*store)->remembered()) + " live tokens, room for " + std::to_string(capacity) +
                        ")";
    replay_store = std::move(*store);
  }
  if (!settings.replay_redis.empty()) {
    const std::string url = without_password(settings.replay_redis);
    // Once the store is open, a URL without '@' named a host and port Redis
    // answered on: the startup line shows it in full (a password is masked).
    const std::string opened_url = settings.replay_redis.find('@') == std::string::npos
                                       ? printable(settings.replay_redis.c_str())
                                       : url;
    mqseal::RedisReplayStoreOptions redis_options;
    if (!settings.replay_namespace.empty()) redis_options.key_namespace = settings.replay_namespace;
    redis_options.capacity = room(mqseal::kMaxRedisReplayCapacity, "Redis replay store");
    if (redis_options.capacity == 0) return false;
    auto store = mqseal::open_redis_replay_store(settings.replay_redis, redis_options);
    settings.wipe_replay_redis();
    if (!store) {
      mosquitto_log_printf(MOSQ_LOG_ERR, "mqseal: plugin_opt_replay_store '%s': %s", url.c_str(),
                           store.error().message().c_str());
      return false;
    }
    store_description = "redis " + opened_url + ", namespace " + printable(redis_options.key_namespace.c_str()) + " (" +
                        std::to_string((*store)->remembered()) + " live tokens, room for " +
                        std::to_string(redis_options.capacity) + ")";
    replay_store = std::move(*store);
  }
  if (replay_store == nullptr) {  // made here, not by the verifier: a reload's verifier shares it
    auto store = mqseal::memory_replay_store();
    if (!store) {
      mosquitto_log_printf(MOSQ_LOG_ERR, "mqseal: the replay store: %s", store.error().message().c_str());
      return false;
    }
    replay_store = std::move(*store);
  }
  settings.verifier.replay_store = std::move(replay_store);
  auto verifier = mqseal::TokenVerifier::create(std::move(*credentials), settings.verifier);
  if (!verifier) {
    mosquitto_log_printf(MOSQ_LOG_ERR, "mqseal: the token verifier's options: %s",
                         verifier.error().message().c_str());
    return false;
  }
  plugin.verifier = std::make_unique<mqseal::TokenVerifier>(std::move(*verifier));
  plugin.protected_filters = std::move(settings.protected_filters);
  plugin.any_client_id = settings.any_client_id;
  plugin.credentials_file = settings.credentials_file;
  plugin.load_options = {settings.allow_insecure};
  plugin.verifier_options = settings.verifier;
  std::string protected_list;
  for (const std::string& filter : plugin.protected_filters) {
    protected_list += (protected_list.empty() ? "'" : ", '") + printable(filter.c_str()) + "'";
  }
  mosquitto_log_printf(MOSQ_LOG_INFO, "mqseal: %zu devices, %zu protected topic filters%s%s", users,
                       plugin.protected_filters.size(), protected_list.empty() ? "" : ": ",
                       protected_list.c_str());
  if (!plugin.protected_filters.empty()) {
    // on_acl_check refuses or passes on; mosquitto 2.0 denies a check that
    // every plugin passed on, so without an acl_file everything is denied.
    mosquitto_log_printf(MOSQ_LOG_NOTICE,
                         "mqseal: protected topics: mosquitto asks the plugin about every publish and subscription, "
                         "and it allows none itself: mosquitto denies what no acl_file or other plugin allows");
  }
  mosquitto_log_printf(MOSQ_LOG_INFO, "mqseal: replay store: %s", store_description.c_str());
  mosquitto_log_printf(MOSQ_LOG_INFO, "mqseal: client IDs: %s",
                       plugin.any_client_id ? "any (a login may take a device's client ID: docs/SECURITY.md)"
                                            : "own (a device's ID is its username, or starts with it and '/'; "
                                              "no other login may use it)");
  return true;
}

}  // namespace

// Everything else in the plugin is hidden (CXX_VISIBILITY_PRESET): only the
// three entry points mosquitto looks up are exported.
#define MQSEAL_PLUGIN_EXPORT __attribute__((visibility("default")))

extern "C" {

MQSEAL_PLUGIN_EXPORT int mosquitto_plugin_version(int supported_version_count, const int* supported_versions) {
  for (int i = 0; i < supported_version_count; ++i) {
    if (supported_versions[i] == kPluginApiVersion) return kPluginApiVersion;
  }
  return -1;
}

MQSEAL_PLUGIN_EXPORT int mosquitto_plugin_init(mosquitto_plugin_id_t* identifier, void** userdata, mosquitto_opt* options,
                          int option_count) {
  auto* plugin = new (std::nothrow) Plugin;
  if (plugin == nullptr) return MOSQ_ERR_NOMEM;
  plugin->id = identifier;
  crypto_generichash_keygen(plugin->digest_key.data());
  if (!configure(*plugin, options, option_count) ||
      mosquitto_callback_register(identifier, MOSQ_EVT_BASIC_AUTH, on_basic_auth, nullptr, plugin) != MOSQ_ERR_SUCCESS ||
      mosquitto_callback_register(identifier, MOSQ_EVT_RELOAD, on_reload, nullptr, plugin) != MOSQ_ERR_SUCCESS ||
      mosquitto_callback_register(identifier, MOSQ_EVT_DISCONNECT, on_disconnect, nullptr, plugin) !=
          MOSQ_ERR_SUCCESS ||
      mosquitto_callback_register(identifier, MOSQ_EVT_TICK, on_tick, nullptr, plugin) != MOSQ_ERR_SUCCESS ||
      (!plugin->protected_filters.empty() &&
       mosquitto_callback_register(identifier, MOSQ_EVT_ACL_CHECK, on_acl_check, nullptr, plugin) != MOSQ_ERR_SUCCESS)) {
    delete plugin;
    return MOSQ_ERR_INVAL;
  }
  *userdata = plugin;
  return MOSQ_ERR_SUCCESS;
}

MQSEAL_PLUGIN_EXPORT int mosquitto_plugin_cleanup(void* userdata, mosquitto_opt*, int) {
  auto* plugin = static_cast<Plugin*>(userdata);
  if (plugin == nullptr) return MOSQ_ERR_SUCCESS;
  mosquitto_callback_unregister(plugin->id, MOSQ_EVT_BASIC_AUTH, on_basic_auth, nullptr);
  mosquitto_callback_unregister(plugin->id, MOSQ_EVT_RELOAD, on_reload, nullptr);
  mosquitto_callback_unregister(plugin->id, MOSQ_EVT_DISCONNECT, on_disconnect, nullptr);
  mosquitto_callback_unregister(plugin->id, MOSQ_EVT_TICK, on_tick, nullptr);
  if (!plugin->protected_filters.empty()) {
    mosquitto_callback_unregister(plugin->id, MOSQ_EVT_ACL_CHECK, on_acl_check, nullptr);
  }
  delete plugin;
  return MOSQ_ERR_SUCCESS;
}

}  // extern "C"
