// mqseal: the command line tool (keyrings, device credentials, envelopes,
// sealed publish and subscribe).
// Each command group is in its own file; this one parses and maps the result
// to the documented exit codes.
#include <CLI/CLI.hpp>
#include <mqseal/version.h>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "common.h"

namespace {

constexpr const char* kFooter =
    "Exit status:\n"
    "  0  success\n"
    "  1  the operation was refused or failed (the reason follows \"mqseal: \" on stderr), or\n"
    "     pub/sub: the broker refused the connection or could not be reached\n"
    "  2  usage error (a wrong command line)\n"
    "  3  I/O error: a file is missing, cannot be read or written, or is unsafe: a secret\n"
    "     file readable by group or others (keyring and credentials files must be mode\n"
    "     0600), any file mqseal reads writable by them or owned by another user\n"
    "  4  sub: the -W time ran out (before -C messages, if given)\n"
    "\n"
    "Files mqseal writes are mode 0600. Key bytes and passwords are never printed, and\n"
    "passwords are read from stdin only, never from the command line.";

bool word_boundary(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '=' || c == ':' || c == ',' || c == '"' || c == '\'' ||
         c == '[' || c == ']' || c == '{' || c == '}';
}

// CLI11's message for a wrong command line, with every argument that is not
// an option name or a command replaced by "<argument N>": CLI11 quotes
// unexpected or unconvertible arguments, and one of them may be a password
// typed on the command line by mistake. Longest first, whole words only, so
// a short argument never garbles the rest of the message.
std::string redacted_usage_error(const std::string& message, int argc, char** argv, const CLI::App& app) {
  std::vector<std::pair<std::string, int>> arguments;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    const size_t equals = a.find('=');
    if (a.rfind("--", 0) == 0 && equals != std::string::npos) a = a.substr(equals + 1);  // --opt=value
    else if (!a.empty() && a[0] == '-') continue;                                         // an option name
    bool command = false;
    for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
      command = command || sub->get_name() == a;
    }
    if (!a.empty() && !command) arguments.emplace_back(a, i);
  }
  std::sort(arguments.begin(), arguments.end(),
            [](const auto& x, const auto& y) { return x.first.size() > y.first.size(); });
  std::string out = message;
  for (const auto& [text, index] : arguments) {
    const std::string replacement = "<argument " + std::to_string(index) + ">";
    for (size_t at = out.find(text); at != std::string::npos; at = out.find(text, at)) {
      const size_t end = at + text.size();
      if ((at == 0 || word_boundary(out[at - 1])) && (end == out.size() || word_boundary(out[end]))) {
        out.replace(at, text.size(), replacement);
        at += replacement.size();
      } else {
        at = end;
      }
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("mqseal " MQSEAL_VERSION_STRING
               ": seal and open MQTT payloads, manage keyrings and device credentials",
               "mqseal");
  app.footer(kFooter);
  app.set_version_flag("--version", MQSEAL_VERSION_STRING);
  app.require_subcommand(1);

  mqseal::cli::Action action;
  mqseal::cli::add_keyring_commands(app, action);
  mqseal::cli::add_device_commands(app, action);
  mqseal::cli::add_envelope_commands(app, action);
#ifdef MQSEAL_CLI_MQTT
  mqseal::cli::add_mqtt_commands(app, action);
#endif

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version end parsing with a "success" that CLI11 prints.
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) {
      (void)app.exit(e);
      return mqseal::cli::kExitOk;
    }
    std::fprintf(stderr, "mqseal: %s\nRun with --help for more information.\n",
                 redacted_usage_error(e.what(), argc, argv, app).c_str());
    return mqseal::cli::kExitUsage;
  }
  if (!action) return mqseal::cli::kExitUsage;  // cannot happen: a subcommand is required
  try {
    return action();
  } catch (const std::exception& e) {  // std::bad_alloc, from the standard library only
    std::fprintf(stderr, "mqseal: %s\n", e.what());
    return mqseal::cli::kExitFailed;
  }
}
