#include "redis_server.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>

#include "broker.h"

namespace mqseal::testing {
namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kLoopbackHost = "127.0.0.1";
constexpr int kPortAttempts = 5;     // fresh ports tried when another process takes ours first
constexpr int kRestartAttempts = 3;  // same port
constexpr int kRestartRetryDelayMs = 100;
constexpr int kStartTimeoutMs = 5'000;
constexpr int kStopGraceMs = 3'000;
constexpr int kPollIntervalMs = 10;
constexpr int kPingTimeoutMs = 2'000;
constexpr mode_t kOutputMode = 0644;

}  // namespace

RedisServer::RedisServer(std::vector<std::string> extra_args) : extra_args_(std::move(extra_args)) {
  std::string pattern = (std::filesystem::temp_directory_path() / "mqseal-redis-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp " << pattern << ": " << std::strerror(errno);
    return;
  }
  dir_ = pattern;
  output_path_ = dir_ + "/redis.out";
  std::string why;
  for (int attempt = 0; attempt < kPortAttempts; ++attempt) {
    port_ = detail::free_port();
    if (port_ != 0 && launch(&why)) {
      started_ = true;
      return;
    }
  }
  ADD_FAILURE() << "redis-server did not start: " << why << "\n--- output ---\n" << log();
}

RedisServer::~RedisServer() {
  stop();
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

bool RedisServer::launch(std::string* why) {
  const int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  const int output_fd = open(output_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, kOutputMode);
  if (null_fd < 0 || output_fd < 0) {
    *why = "cannot open /dev/null or " + output_path_ + ": " + std::strerror(errno);
    if (null_fd >= 0) close(null_fd);
    if (output_fd >= 0) close(output_fd);
    return false;
  }
  std::vector<std::string> argv = {"redis-server", "--port", std::to_string(port_), "--bind", kLoopbackHost,
                                   "--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", dir_};
  argv.insert(argv.end(), extra_args_.begin(), extra_args_.end());
  pid_ = detail::spawn_process(argv, null_fd, output_fd, output_fd, why);
  close(null_fd);
  close(output_fd);
  if (pid_ < 0) return false;
  const auto deadline = Clock::now() + std::chrono::milliseconds(kStartTimeoutMs);
  while (Clock::now() < deadline) {
    int status = 0;
    if (detail::wait_for_exit(pid_, 0, &status)) {
      pid_ = -1;
      *why = "redis-server on port " + std::to_string(port_) + " ended at startup (" +
             detail::describe_status(status) + ")";
      return false;
    }
    if (running()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(kPollIntervalMs));
  }
  stop();
  *why = "redis-server on port " + std::to_string(port_) + " not answering PING after " +
         std::to_string(kStartTimeoutMs) + " ms";
  return false;
}

bool RedisServer::running() const {
  if (!detail::is_alive(pid_) || !detail::accepts_connections(port_)) return false;
  const CommandResult pong = cli({"PING"}, kPingTimeoutMs);
  // A server with requirepass answers NOAUTH: running too.
  return pong.ok() && (pong.out.rfind("PONG", 0) == 0 || pong.out.find("NOAUTH") != std::string::npos);
}

std::string RedisServer::url(int db) const {
  return "redis://" + std::string(kLoopbackHost) + ":" + std::to_string(port_) + "/" + std::to_string(db);
}

std::string RedisServer::log() const { return detail::read_file_from(output_path_); }

void RedisServer::stop() {
  if (pid_ <= 0) return;
  detail::terminate_process(pid_, kStopGraceMs);
  pid_ = -1;
}

void RedisServer::restart() {
  stop();
  if (!started_) {
    ADD_FAILURE() << "RedisServer::restart: the server never started";
    return;
  }
  std::string why;
  for (int attempt = 0; attempt < kRestartAttempts; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(kRestartRetryDelayMs));
    if (launch(&why)) return;
  }
  ADD_FAILURE() << "redis-server did not restart on port " << port_ << ": " << why << "\n--- output ---\n" << log();
}

CommandResult RedisServer::cli(const std::vector<std::string>& args, int timeout_ms) const {
  std::vector<std::string> argv = {"redis-cli", "--raw", "-h", kLoopbackHost, "-p", std::to_string(port_)};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv, timeout_ms);
}

}  // namespace mqseal::testing
