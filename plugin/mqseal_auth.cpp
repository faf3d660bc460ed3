// mqseal_auth.so: a mosquitto 2.0 plugin (API version 5) that logs devices in
// with mqseal CONNECT tokens, and optionally refuses unsealed payloads on
// protected topics. mosquitto.conf:
//
//   plugin /usr/lib/mqseal/mqseal_auth.so
//   plugin_opt_credentials_file /etc/mosquitto/mqseal.credentials
//   plugin_opt_max_clock_skew 30            (seconds; optional)
//   plugin_opt_max_token_lifetime 3600      (seconds; optional)
//   plugin_opt_max_tokens_per_user 64       (1..65536; optional: live tokens remembered per
//                                            device, docs/SPEC.md section 11)
//   plugin_opt_protected_topics plant/#,factory/+/cmd/#   (optional)
//
// Users in the credentials file must present a valid token; anyone else is
// deferred to mosquitto's own checks (password_file, other plugins), so
// existing users keep working. Every refusal logs one line saying which check
// failed, never a secret. On protected topics a publish whose payload is not
// a well-formed mqseal envelope is refused: the broker cannot read sealed
// payloads, but it can refuse plaintext where only sealed data belongs.
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include <mqseal/credentials.h>
#include <mqseal/envelope.h>
#include <mqseal/topic.h>

#include <charconv>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr int kPluginApiVersion = 5;
constexpr size_t kMaxLoggedChars = 64;

struct Plugin {
  mosquitto_plugin_id_t* id = nullptr;
  std::unique_ptr<mqseal::TokenVerifier> verifier;
  std::vector<std::string> protected_filters;
};

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

int on_basic_auth(int, void* event_data, void* userdata) {
  const auto* event = static_cast<const mosquitto_evt_basic_auth*>(event_data);
  auto* plugin = static_cast<Plugin*>(userdata);
  // Users the credentials do not hold are not ours: mosquitto's own checks
  // (password_file, other plugins) decide, whatever their password looks like.
  if (event->username == nullptr || !plugin->verifier->knows(event->username)) return MOSQ_ERR_PLUGIN_DEFER;
  const char* client_id = mosquitto_client_id(event->client);
  const mqseal::Status verdict = plugin->verifier->verify(
      event->username, client_id != nullptr ? client_id : "", event->password != nullptr ? event->password : "");
  if (verdict) return MOSQ_ERR_SUCCESS;
  mosquitto_log_printf(MOSQ_LOG_NOTICE, "mqseal: refused CONNECT of user '%s' (client '%s'): %s",
                       printable(event->username).c_str(), printable(client_id).c_str(),
                       mqseal::name(verdict.error().code()));
  return MOSQ_ERR_AUTH;
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

bool parse_seconds(const char* text, uint64_t& out) {
  const size_t n = std::strlen(text);
  auto [ptr, ec] = std::from_chars(text, text + n, out);
  return n > 0 && ec == std::errc() && ptr == text + n;
}

// Reads the plugin_opt_ lines; logs and returns false on anything wrong.
bool configure(Plugin& plugin, const mosquitto_opt* options, int count) {
  std::string credentials_file;
  bool allow_insecure = false;
  mqseal::VerifierOptions verifier_options;
  for (int i = 0; i < count; ++i) {
    const std::string_view key = options[i].key;
    const char* value = options[i].value != nullptr ? options[i].value : "";
    if (key == "credentials_file") {
      credentials_file = value;
    } else if (key == "allow_insecure_permissions") {
      allow_insecure = std::string_view(value) == "true";
    } else if (key == "max_clock_skew") {
      if (!parse_seconds(value, verifier_options.max_clock_skew_s)) {
        mosquitto_log_printf(MOSQ_LOG_ERR, "mqseal: plugin_opt_max_clock_skew is a number of seconds");
        return false;
      }
    } else if (key == "max_token_lifetime") {
      if (!parse_seconds(value, verifier_options.max_lifetime_s)) {
        mosquitto_log_printf(MOSQ_LOG_ERR, "mqseal: plugin_opt_max_token_lifetime is a number of seconds");
        return false;
      }
    } else if (key == "max_tokens_per_user") {
      uint64_t n = 0;
      if (!parse_seconds(value, n) || n == 0 || n > mqseal::kMaxTokensPerUserLimit) {
        mosquitto_log_printf(MOSQ_LOG_ERR, "mqseal: plugin_opt_max_tokens_per_user is a number from 1 to %zu",
                             mqseal::kMaxTokensPerUserLimit);
        return false;
      }
      verifier_options.max_tokens_per_user = static_cast<size_t>(n);
    } else if (key == "protected_topics") {
      std::string_view list = value;
      while (!list.empty()) {
        const size_t comma = std::min(list.find(','), list.size());
        const std::string filter(list.substr(0, comma));
        if (!mqseal::validate_filter(filter)) {
          mosquitto_log_printf(MOSQ_LOG_ERR, "mqseal: '%s' in plugin_opt_protected_topics is not a topic filter",
                               printable(filter.c_str()).c_str());
          return false;
        }
        plugin.protected_filters.push_back(filter);
        list.remove_prefix(std::min(comma + 1, list.size()));
      }
    } else {
      mosquitto_log_printf(MOSQ_LOG_ERR, "mqseal: unknown option plugin_opt_%s", printable(options[i].key).c_str());
      return false;
    }
  }
  if (credentials_file.empty()) {
    mosquitto_log_printf(MOSQ_LOG_ERR, "mqseal: plugin_opt_credentials_file is required");
    return false;
  }
  auto credentials = mqseal::Credentials::load(credentials_file, allow_insecure);
  if (!credentials) {
    mosquitto_log_printf(MOSQ_LOG_ERR, "mqseal: %s", credentials.error().message().c_str());
    return false;
  }
  const size_t users = credentials->size();
  auto verifier = mqseal::TokenVerifier::create(std::move(*credentials), verifier_options);
  if (!verifier) {
    mosquitto_log_printf(MOSQ_LOG_ERR, "mqseal: %s", verifier.error().message().c_str());
    return false;
  }
  plugin.verifier = std::make_unique<mqseal::TokenVerifier>(std::move(*verifier));
  mosquitto_log_printf(MOSQ_LOG_INFO, "mqseal: %zu devices, %zu protected topic filters", users,
                       plugin.protected_filters.size());
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
  if (!configure(*plugin, options, option_count) ||
      mosquitto_callback_register(identifier, MOSQ_EVT_BASIC_AUTH, on_basic_auth, nullptr, plugin) != MOSQ_ERR_SUCCESS ||
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
  if (!plugin->protected_filters.empty()) {
    mosquitto_callback_unregister(plugin->id, MOSQ_EVT_ACL_CHECK, on_acl_check, nullptr);
  }
  delete plugin;
  return MOSQ_ERR_SUCCESS;
}

}  // extern "C"
