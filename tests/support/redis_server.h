// A real redis-server for integration tests: on 127.0.0.1:<free port>, no
// persistence, in a temp dir of its own; stopped and started again on the
// same port (with its data gone: nothing is saved), and redis-cli against it.
#ifndef MQSEAL_TESTS_SUPPORT_REDIS_SERVER_H_
#define MQSEAL_TESTS_SUPPORT_REDIS_SERVER_H_

#include <string>
#include <vector>

#include "certs.h"

namespace mqseal::testing {

// `redis-server --port N --bind 127.0.0.1 --save '' --appendonly no
// --daemonize no` (plus extra_args). Startup failures are reported with
// ADD_FAILURE and its output; check running(). The process dies with the
// thread that created it.
class RedisServer {
 public:
  explicit RedisServer(std::vector<std::string> extra_args = {});
  ~RedisServer();  // stop(), then removes its temp dir
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  bool running() const;  // process alive and answering PING (NOAUTH counts)
  int port() const { return port_; }
  std::string url(int db = 0) const;  // "redis://127.0.0.1:PORT/DB"
  std::string log() const;            // its output so far
  void stop();                        // SIGTERM, bounded wait, SIGKILL if needed (idempotent)
  void restart();                     // start again on the same port (empty: nothing was saved)
  // redis-cli -h 127.0.0.1 -p PORT ARGS... (--raw output)
  CommandResult cli(const std::vector<std::string>& args, int timeout_ms = kDefaultCommandTimeoutMs) const;

 private:
  bool launch(std::string* why);

  std::vector<std::string> extra_args_;
  std::string dir_, output_path_;
  int port_ = 0;
  int pid_ = -1;
  bool started_ = false;
};

}  // namespace mqseal::testing

#endif  // MQSEAL_TESTS_SUPPORT_REDIS_SERVER_H_
