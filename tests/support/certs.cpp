#include "certs.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace mqseal::testing {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kPollIntervalMs = 5;
constexpr int kChildFailureExitCode = 127;
constexpr std::size_t kReadChunkBytes = 4096;
constexpr const char* kFallbackProgramDirs[] = {"/usr/local/sbin", "/usr/sbin", "/sbin"};
constexpr int kSignalsToReset[] = {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD};

constexpr mode_t kPublicDirMode = 0755;
constexpr mode_t kPublicFileMode = 0644;
constexpr int kOpensslTimeoutMs = 10'000;
constexpr int kCertificateValidityDays = 2;
constexpr const char* kCurveOption = "ec_paramgen_curve:P-256";
constexpr const char* kDigestOption = "-sha256";
constexpr const char* kServerCommonName = "localhost";
constexpr const char* kCaCommonName = "mqseal-test-ca";
constexpr const char* kOtherCaCommonName = "mqseal-other-test-ca";
constexpr int kServerSerial = 0x1001;
constexpr int kClientSerial = 0x1002;
constexpr int kOtherClientSerial = 0x2001;

// Our own config, so the system openssl.cnf cannot change what we get.
constexpr const char* kOpensslConfig = R"([req]
distinguished_name = dn
prompt = no
[dn]
CN = placeholder
[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[client_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
)";

int ms_until(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::max<decltype(left)>(left, 0));
}

std::string resolve_program(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  std::vector<std::string> dirs;
  if (const char* path = std::getenv("PATH")) {
    std::stringstream in(path);
    for (std::string dir; std::getline(in, dir, ':');) dirs.push_back(dir.empty() ? "." : dir);
  }
  for (const char* dir : kFallbackProgramDirs) dirs.emplace_back(dir);
  for (const auto& dir : dirs) {
    const std::string candidate = dir + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

std::string join_command(const std::vector<std::string>& argv) {
  std::string line;
  for (const auto& arg : argv) {
    if (!line.empty()) line += ' ';
    const bool quote = arg.empty() || arg.find_first_of(" \t\"'\\$") != std::string::npos;
    line += quote ? "'" + arg + "'" : arg;
  }
  return line;
}

// Between fork and exec: async-signal-safe calls only.
[[noreturn]] void child_fail(int report_fd) {
  const int error = errno;
  if (write(report_fd, &error, sizeof error) < 0) {
    // Nothing more we can do; the parent sees the exit code.
  }
  _exit(kChildFailureExitCode);
}

bool move_fd(int from, int to) {
  if (from == to) return fcntl(to, F_SETFD, 0) == 0;  // dup2 would keep FD_CLOEXEC
  return dup2(from, to) == to;
}

// openssl -subj takes "/CN=value"; '/', '+' and '\' in the value need a backslash.
std::string subject(const std::string& common_name) {
  std::string escaped;
  for (char c : common_name) {
    if (c == '/' || c == '+' || c == '\\') escaped += '\\';
    escaped += c;
  }
  return "/CN=" + escaped;
}

}  // namespace

namespace detail {

int spawn_process(const std::vector<std::string>& argv, int stdin_fd, int stdout_fd, int stderr_fd,
                  std::string* error) {
  if (argv.empty()) {
    *error = "empty command line";
    return -1;
  }
  const std::string program = resolve_program(argv[0]);
  if (program.empty()) {
    *error = argv[0] + ": not found in PATH (nor in /usr/local/sbin, /usr/sbin, /sbin)";
    return -1;
  }
  std::vector<std::string> args = argv;  // execv wants char*; built before fork (no allocation after it)
  std::vector<char*> c_args;
  for (auto& arg : args) c_args.push_back(arg.data());
  c_args.push_back(nullptr);

  int report[2];
  if (pipe2(report, O_CLOEXEC) != 0) {
    *error = std::string("pipe2: ") + std::strerror(errno);
    return -1;
  }
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    *error = std::string("fork: ") + std::strerror(errno);
    close(report[0]);
    close(report[1]);
    return -1;
  }
  if (pid == 0) {
    setpgid(0, 0);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) child_fail(report[1]);
    if (getppid() != parent) _exit(kChildFailureExitCode);  // the parent died before prctl
    struct sigaction default_action {};
    default_action.sa_handler = SIG_DFL;
    sigemptyset(&default_action.sa_mask);
    for (int sig : kSignalsToReset) sigaction(sig, &default_action, nullptr);
    sigset_t no_signals;
    sigemptyset(&no_signals);
    sigprocmask(SIG_SETMASK, &no_signals, nullptr);
    if (!move_fd(stdin_fd, STDIN_FILENO) || !move_fd(stdout_fd, STDOUT_FILENO) ||
        !move_fd(stderr_fd, STDERR_FILENO)) {
      child_fail(report[1]);
    }
    execv(program.c_str(), c_args.data());
    child_fail(report[1]);
  }
  close(report[1]);
  setpgid(pid, pid);  // also from here, so the group exists whichever side runs first (may fail after exec)
  int child_errno = 0;
  ssize_t got;
  do {
    got = read(report[0], &child_errno, sizeof child_errno);
  } while (got < 0 && errno == EINTR);
  close(report[0]);
  if (got > 0) {
    waitpid(pid, nullptr, 0);
    *error = "cannot start " + program + ": " + std::strerror(child_errno);
    return -1;
  }
  return pid;
}

constexpr int kUnknownExitStatus = 255 << 8;  // what waitpid reports for exit(255)

bool wait_for_exit(int pid, int timeout_ms, int* status) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    int wait_status = 0;
    const pid_t got = waitpid(pid, &wait_status, WNOHANG);
    if (got == pid) {
      *status = wait_status;
      return true;
    }
    if (got < 0 && errno != EINTR) {
      // Not our child any more (someone reaped it, or SIGCHLD is ignored): the
      // outcome is unknown, so report it as a failure (exit code 255), never
      // as a success.
      *status = kUnknownExitStatus;
      return true;
    }
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(kPollIntervalMs));
  }
}

bool is_alive(int pid) {
  if (pid <= 0) return false;
  siginfo_t info{};
  if (waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0) return false;
  return info.si_pid == 0;
}

int terminate_process(int pid, int grace_ms) {
  // pid is not reaped yet, so neither it nor its process group id can have been reused.
  kill(-pid, SIGTERM);
  kill(pid, SIGTERM);
  int status = 0;
  if (wait_for_exit(pid, grace_ms, &status)) return status;
  kill(-pid, SIGKILL);
  kill(pid, SIGKILL);
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exit code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "wait status " + std::to_string(status);
}

std::string read_file_from(const std::string& path, std::size_t offset) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  in.seekg(static_cast<std::streamoff>(offset));
  if (!in) return "";
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

bool write_whole_file(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  out.close();
  return static_cast<bool>(out);
}

}  // namespace detail

std::string CommandResult::describe() const {
  std::string text = "`" + command + "`: ";
  if (timed_out) {
    text += "timed out";
  } else if (signal != 0) {
    text += "killed by signal " + std::to_string(signal);
  } else {
    text += "exit code " + std::to_string(exit_code);
  }
  text += "\n--- stdout ---\n" + out + "\n--- stderr ---\n" + err;
  return text;
}

CommandResult run_command(const std::vector<std::string>& argv, int timeout_ms) {
  CommandResult result;
  result.command = join_command(argv);
  int out_pipe[2];
  int err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) {
    result.err = std::string("pipe2: ") + std::strerror(errno);
    return result;
  }
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    result.err = std::string("pipe2: ") + std::strerror(errno);
    close(out_pipe[0]);
    close(out_pipe[1]);
    return result;
  }
  const int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  std::string error;
  const int pid = null_fd < 0 ? -1 : detail::spawn_process(argv, null_fd, out_pipe[1], err_pipe[1], &error);
  if (null_fd < 0) error = std::string("/dev/null: ") + std::strerror(errno);
  if (null_fd >= 0) close(null_fd);
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (pid < 0) {
    close(out_pipe[0]);
    close(err_pipe[0]);
    result.err = error;
    return result;
  }

  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  pollfd fds[] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[] = {&result.out, &result.err};
  int open_count = 2;
  while (open_count > 0) {
    const int left = ms_until(deadline);
    if (left == 0) {
      result.timed_out = true;
      break;
    }
    if (poll(fds, 2, left) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (std::size_t i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      char buffer[kReadChunkBytes];
      const ssize_t got = read(fds[i].fd, buffer, sizeof buffer);
      if (got > 0) {
        sinks[i]->append(buffer, static_cast<std::size_t>(got));
      } else if (got == 0 || errno != EINTR) {
        close(fds[i].fd);
        fds[i].fd = -1;  // poll ignores it from now on
        --open_count;
      }
    }
  }
  for (auto& fd : fds) {
    if (fd.fd >= 0) close(fd.fd);
  }

  int status = 0;
  if (!result.timed_out && !detail::wait_for_exit(pid, ms_until(deadline), &status)) result.timed_out = true;
  if (result.timed_out) status = detail::terminate_process(pid, 0);
  if (!result.timed_out && WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  return result;
}

CertificateSet generate_certificates(const std::string& dir, const std::string& client_cn) {
  if (client_cn.empty()) {
    ADD_FAILURE() << "generate_certificates: empty client CN";
    return {};
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    ADD_FAILURE() << "generate_certificates: cannot create " << dir << ": " << ec.message();
    return {};
  }
  chmod(dir.c_str(), kPublicDirMode);

  CertificateSet set;
  set.dir = dir;
  const auto file = [&dir](const char* name) { return dir + "/" + name; };
  set.ca_cert = file("ca-cert.pem");
  set.ca_key = file("ca-key.pem");
  set.server_cert = file("server-cert.pem");
  set.server_key = file("server-key.pem");
  set.client_cert = file("client-cert.pem");
  set.client_key = file("client-key.pem");
  set.other_ca_cert = file("other-ca-cert.pem");
  const std::string other_ca_key = file("other-ca-key.pem");
  set.other_client_cert = file("other-client-cert.pem");
  set.other_client_key = file("other-client-key.pem");
  const std::string config = file("openssl.cnf");
  if (!detail::write_whole_file(config, kOpensslConfig)) {
    ADD_FAILURE() << "generate_certificates: cannot write " << config;
    return {};
  }

  const std::string days = std::to_string(kCertificateValidityDays);
  using Command = std::vector<std::string>;
  std::vector<Command> commands;
  const auto new_key = [&](const std::string& key) {
    commands.push_back({"openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", kCurveOption, "-out", key});
  };
  const auto new_ca = [&](const std::string& key, const std::string& cert, const char* cn) {
    new_key(key);
    commands.push_back({"openssl", "req", "-new", "-x509", "-config", config, "-extensions", "ca_ext", "-key", key,
                        "-subj", subject(cn), "-days", days, kDigestOption, "-out", cert});
  };
  const auto new_leaf = [&](const std::string& key, const std::string& cert, const std::string& cn,
                            const std::string& ca_cert, const std::string& ca_key, const char* extensions,
                            int serial) {
    const std::string request = cert + ".csr";
    new_key(key);
    commands.push_back(
        {"openssl", "req", "-new", "-config", config, "-key", key, "-subj", subject(cn), "-out", request});
    commands.push_back({"openssl", "x509", "-req", "-in", request, "-CA", ca_cert, "-CAkey", ca_key,
                        "-set_serial", std::to_string(serial), "-days", days, kDigestOption, "-extfile", config,
                        "-extensions", extensions, "-out", cert});
  };
  new_ca(set.ca_key, set.ca_cert, kCaCommonName);
  new_leaf(set.server_key, set.server_cert, kServerCommonName, set.ca_cert, set.ca_key, "server_ext",
           kServerSerial);
  new_leaf(set.client_key, set.client_cert, client_cn, set.ca_cert, set.ca_key, "client_ext", kClientSerial);
  new_ca(other_ca_key, set.other_ca_cert, kOtherCaCommonName);
  new_leaf(set.other_client_key, set.other_client_cert, client_cn, set.other_ca_cert, other_ca_key, "client_ext",
           kOtherClientSerial);

  for (const auto& command : commands) {
    const CommandResult result = run_command(command, kOpensslTimeoutMs);
    if (!result.ok()) {
      ADD_FAILURE() << "generate_certificates: openssl failed: " << result.describe();
      return {};
    }
  }
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    chmod(entry.path().c_str(), kPublicFileMode);  // keys too: mosquitto may not run as us
  }
  return set;
}

}  // namespace mqseal::testing
