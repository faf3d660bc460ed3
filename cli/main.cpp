// mqseal: the command line tool (keyrings, device credentials, envelopes).
// Each command group is in its own file; this one parses and maps the result
// to the documented exit codes.
#include <CLI/CLI.hpp>
#include <mqseal/version.h>

#include <cstdio>
#include <exception>

#include "common.h"

namespace {

constexpr const char* kFooter =
    "Exit status:\n"
    "  0  success\n"
    "  1  the operation was refused or failed (the reason follows \"mqseal: \" on stderr)\n"
    "  2  usage error (a wrong command line)\n"
    "  3  I/O error: a file is missing, cannot be read or written, or a secret file is\n"
    "     readable by group or others (keyring and credentials files must be mode 0600)\n"
    "\n"
    "Files mqseal writes are mode 0600. Key bytes and passwords are never printed, and\n"
    "passwords are read from stdin only, never from the command line.";

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

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version end parsing with a "success" that CLI11 prints.
    return app.exit(e) == static_cast<int>(CLI::ExitCodes::Success) ? mqseal::cli::kExitOk
                                                                     : mqseal::cli::kExitUsage;
  }
  if (!action) return mqseal::cli::kExitUsage;  // cannot happen: a subcommand is required
  try {
    return action();
  } catch (const std::exception& e) {  // std::bad_alloc, from the standard library only
    std::fprintf(stderr, "mqseal: %s\n", e.what());
    return mqseal::cli::kExitFailed;
  }
}
