#include "common.h"

#include <sodium.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <cstring>

namespace mqseal::cli {

int fail(const Error& error) {
  // pub and sub: transport_error's own text says the MQTT client library
  // refused, but its detail says who did (often the broker) and what.
  const bool mqtt = error == Errc::transport_error && !error.detail().empty();
  std::fprintf(stderr, "mqseal: %s\n", mqtt ? error.detail().c_str() : error.message().c_str());
  return error == Errc::io_error || error == Errc::insecure_permissions ? kExitIo : kExitFailed;
}

void note(const std::string& text) { std::fprintf(stderr, "mqseal: note: %s\n", text.c_str()); }

bool missing(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) != 0 && errno == ENOENT;
}

Result<Keyring> load_or_new_keyring(const std::string& path) {
  if (missing(path)) return Keyring();
  return Keyring::load(path);
}

std::optional<KeyId> parse_key_id(std::string_view text) {
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) text.remove_prefix(2);
  if (text.empty() || text.size() > 8) return std::nullopt;
  KeyId id = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id, 16);
  if (ec != std::errc() || end != text.data() + text.size() || id == 0) return std::nullopt;
  return id;
}

std::string key_id_hex(KeyId id) {
  char text[9];
  std::snprintf(text, sizeof text, "%08x", static_cast<unsigned>(id));
  return text;
}

Status read_stdin(size_t max_size, std::vector<uint8_t>& out) {
  out.clear();
  uint8_t chunk[1 << 16];
  for (;;) {
    const size_t n = std::fread(chunk, 1, sizeof chunk, stdin);
    if (n > max_size - out.size()) {
      return Error(Errc::payload_too_large, "standard input holds more than " + std::to_string(max_size) + " bytes");
    }
    out.insert(out.end(), chunk, chunk + n);
    if (n < sizeof chunk) break;
  }
  if (std::ferror(stdin)) {
    return Error(Errc::io_error, std::string("cannot read standard input: ") + std::strerror(errno));
  }
  return {};
}

Status write_stdout(ByteView bytes) {
  if ((bytes.size() != 0 && std::fwrite(bytes.data(), 1, bytes.size(), stdout) != bytes.size()) ||
      std::fflush(stdout) != 0) {
    return Error(Errc::io_error, std::string("cannot write standard output: ") + std::strerror(errno));
  }
  return {};
}

int print_saved_key_id(KeyId id, const std::string& keyring) {
  Status printed = write_stdout(key_id_hex(id) + "\n");
  if (printed) return kExitOk;
  return fail(Error(Errc::io_error, printed.error().detail() + "; the new key " + key_id_hex(id) + " is saved in " +
                                        keyring + " all the same (do not run this again for it: that would add " +
                                        "another key)"));
}

namespace {

// The terminal's settings before and while echo is off, for the signal handlers.
struct termios g_saved_termios {};
struct termios g_quiet_termios {};
volatile std::sig_atomic_t g_echo_off = 0;
// SIGTSTP (^Z): the stop handler's; the others end the program.
constexpr int kRestoreSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP};

extern "C" void restore_echo_and_reraise(int signal_number) {
  if (g_echo_off) ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &g_saved_termios);
  std::signal(signal_number, SIG_DFL);
  std::raise(signal_number);
}

// ^Z at the prompt: echo back on while stopped, and off again once continued.
// A shell puts its own settings back when a job stops (bash: echo on), not
// the job's when it continues it (fg): without this, the rest of the password
// was typed with echo on.
extern "C" void restore_echo_and_stop(int signal_number) {
  const int saved_errno = errno;
  if (g_echo_off) ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &g_saved_termios);
  struct sigaction stop {};
  struct sigaction ours {};
  stop.sa_handler = SIG_DFL;
  sigemptyset(&stop.sa_mask);
  ::sigaction(signal_number, &stop, &ours);
  sigset_t just_this;
  sigemptyset(&just_this);
  sigaddset(&just_this, signal_number);
  ::sigprocmask(SIG_UNBLOCK, &just_this, nullptr);
  ::raise(signal_number);  // stopped here until SIGCONT
  ::sigprocmask(SIG_BLOCK, &just_this, nullptr);
  ::sigaction(signal_number, &ours, nullptr);
  if (g_echo_off) ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &g_quiet_termios);
  errno = saved_errno;
}

// Turns terminal echo off for its lifetime (and puts it back if a signal
// ends the program meanwhile).
class EchoOff {
 public:
  EchoOff() {
    if (::tcgetattr(STDIN_FILENO, &g_saved_termios) != 0) return;
    struct sigaction action {};
    sigemptyset(&action.sa_mask);
    for (size_t i = 0; i < std::size(kRestoreSignals); ++i) {
      action.sa_handler = kRestoreSignals[i] == SIGTSTP ? restore_echo_and_stop : restore_echo_and_reraise;
      ::sigaction(kRestoreSignals[i], &action, &previous_[i]);
      // ^Z ignored (as where no job control is): still ignored.
      if (previous_[i].sa_handler == SIG_IGN && kRestoreSignals[i] == SIGTSTP) {
        ::sigaction(kRestoreSignals[i], &previous_[i], nullptr);
      }
    }
    g_quiet_termios = g_saved_termios;
    g_quiet_termios.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    g_echo_off = ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &g_quiet_termios) == 0;
    active_ = true;
  }
  EchoOff(const EchoOff&) = delete;
  EchoOff& operator=(const EchoOff&) = delete;
  ~EchoOff() {
    if (!active_) return;
    if (g_echo_off) ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &g_saved_termios);
    g_echo_off = 0;
    for (size_t i = 0; i < std::size(kRestoreSignals); ++i) ::sigaction(kRestoreSignals[i], &previous_[i], nullptr);
    std::fputc('\n', stderr);  // the newline the user typed was not echoed
  }

 private:
  bool active_ = false;
  struct sigaction previous_[std::size(kRestoreSignals)] {};
};

// One line from the file descriptor into `buffer` (kMaxPasswordSize bytes),
// its length into `size`, read a byte at a time so that no stdio buffer keeps
// a copy. `got_any` is false at end of input.
Status read_line(internal::Secret& buffer, size_t& size, bool& got_any) {
  size = 0;
  got_any = false;
  for (;;) {
    char c = 0;
    const ssize_t n = ::read(STDIN_FILENO, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error(Errc::io_error, std::string("cannot read standard input: ") + std::strerror(errno));
    if (n == 0) break;
    got_any = true;
    if (c == '\n') break;
    if (size >= buffer.size()) {
      return Error(Errc::invalid_argument,
                   "a password longer than " + std::to_string(kMaxPasswordSize) + " bytes");
    }
    buffer.data()[size++] = static_cast<uint8_t>(c);
  }
  if (size != 0 && buffer.data()[size - 1] == '\r') --size;
  return {};
}

}  // namespace

Result<internal::Secret> read_password(const std::string& prompt) {
  Result<internal::Secret> buffer = internal::Secret::allocate(kMaxPasswordSize);
  if (!buffer) return std::move(buffer).error();
  size_t size = 0;
  bool got_any = false;
  if (!::isatty(STDIN_FILENO)) {
    if (Status s = read_line(*buffer, size, got_any); !s) return s.error();
    if (!got_any) return Error(Errc::invalid_argument, "no password on standard input");
    return internal::Secret::copy_of(ByteView(buffer->data(), size));
  }
  Result<internal::Secret> again = internal::Secret::allocate(kMaxPasswordSize);
  if (!again) return std::move(again).error();
  size_t again_size = 0;
  {
    std::fprintf(stderr, "%s: ", prompt.c_str());
    EchoOff quiet;
    if (Status s = read_line(*buffer, size, got_any); !s) return s.error();
  }
  {
    std::fprintf(stderr, "%s (again): ", prompt.c_str());
    EchoOff quiet;
    if (Status s = read_line(*again, again_size, got_any); !s) return s.error();
  }
  if (size != again_size || sodium_memcmp(buffer->data(), again->data(), size) != 0) {
    return Error(Errc::invalid_argument, "the passwords differ");
  }
  return internal::Secret::copy_of(ByteView(buffer->data(), size));
}

}  // namespace mqseal::cli
