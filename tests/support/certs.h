// Test certificates made with the openssl command line, and the small process helpers the harness runs on.
#ifndef MQSEAL_TESTS_SUPPORT_CERTS_H_
#define MQSEAL_TESTS_SUPPORT_CERTS_H_

#include <cstddef>
#include <string>
#include <vector>

namespace mqseal::testing {

struct CertificateSet {  // all paths are PEM files inside `dir`
  std::string dir;
  std::string ca_cert, ca_key;          // test CA
  std::string server_cert, server_key;  // CN=localhost, SAN IP:127.0.0.1 and DNS:localhost, signed by the CA
  std::string client_cert, client_key;  // CN=<client_cn>, signed by the CA (clientAuth EKU)
  std::string other_ca_cert, other_client_cert, other_client_key;  // an unrelated CA, and a client cert it signed
                                                                   // (same CN as client_cert)
  bool ok() const { return !dir.empty(); }
};

// Generates everything with the `openssl` command line (EC P-256 keys, a validity of two days). Creates `dir` if
// needed; files in it are world-readable (mosquitto may run as another user). On failure: ADD_FAILURE with
// openssl's command line and stderr, and returns an empty set (ok() is false).
CertificateSet generate_certificates(const std::string& dir, const std::string& client_cn = "device-1");

// ---- Process helpers (also used by broker.cpp) ----

struct CommandResult {
  std::string command;     // the command line, for messages
  int exit_code = -1;      // -1 if it could not start, was killed by a signal or timed out
  int signal = 0;          // the signal that ended it, if any
  bool timed_out = false;  // killed because it outlived its time limit
  std::string out, err;    // everything it wrote to stdout and stderr
  bool ok() const { return exit_code == 0; }
  std::string describe() const;  // command, how it ended, stdout and stderr: for failure messages
};

constexpr int kDefaultCommandTimeoutMs = 10'000;

// Runs argv (argv[0] looked up in PATH, then /usr/local/sbin, /usr/sbin, /sbin) with stdin from /dev/null,
// collecting its output. Killed (SIGKILL, whole process group) after timeout_ms.
CommandResult run_command(const std::vector<std::string>& argv, int timeout_ms = kDefaultCommandTimeoutMs);

namespace detail {

// Starts argv in its own process group, with PR_SET_PDEATHSIG=SIGKILL (so it dies with the thread that started
// it, even if the test process crashes). The three descriptors become its stdin, stdout and stderr.
// Returns the pid, or -1 with *error set.
int spawn_process(const std::vector<std::string>& argv, int stdin_fd, int stdout_fd, int stderr_fd,
                  std::string* error);
// Waits up to timeout_ms for pid to end; true (child reaped, *status its wait status) if it did.
bool wait_for_exit(int pid, int timeout_ms, int* status);
// True while pid (a child of ours) has not ended; does not reap it.
bool is_alive(int pid);
// SIGTERM to its process group, up to grace_ms to end, then SIGKILL. Always reaps; returns the wait status.
int terminate_process(int pid, int grace_ms);
// "exit code N" / "killed by signal N" for a wait status.
std::string describe_status(int status);
// The file's bytes from `offset` on ("" if it cannot be read).
std::string read_file_from(const std::string& path, std::size_t offset = 0);
bool write_whole_file(const std::string& path, const std::string& content);

}  // namespace detail
}  // namespace mqseal::testing

#endif  // MQSEAL_TESTS_SUPPORT_CERTS_H_
