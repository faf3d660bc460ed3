// A TCP relay on 127.0.0.1 for one connection: clients connect to port(), it
// connects to 127.0.0.1:broker_port and forwards both ways, counting bytes and
// keeping what it forwarded. Header-only and without GoogleTest, so that the
// benchmarks (bytes on the wire) and the tests (what crosses the wire) share it.
#ifndef MQSEAL_TESTS_SUPPORT_TCP_RELAY_H_
#define MQSEAL_TESTS_SUPPORT_TCP_RELAY_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>

namespace mqseal::testing {

class TcpRelay {
 public:
  explicit TcpRelay(int broker_port) {
    listener_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr = loopback(0);
    socklen_t len = sizeof addr;
    ok_ = listener_ >= 0 && bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
          listen(listener_, 1) == 0 && getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
    port_ = ntohs(addr.sin_port);
    if (ok_) thread_ = std::thread([this, broker_port] { run(broker_port); });
  }
  TcpRelay(const TcpRelay&) = delete;
  TcpRelay& operator=(const TcpRelay&) = delete;
  ~TcpRelay() { finish(); }

  bool ok() const { return ok_; }  // listening on 127.0.0.1
  int port() const { return port_; }
  uint64_t bytes_up() const { return up_.load(); }      // client to broker
  uint64_t bytes_down() const { return down_.load(); }  // broker to client
  // Waits for the relayed connection to end; everything that crossed it.
  const std::string& finish() {
    if (thread_.joinable()) thread_.join();
    if (listener_ >= 0) close(listener_);
    listener_ = -1;
    return bytes_;
  }

 private:
  static constexpr int kIdleMs = 5000;  // a connection silent this long is over
  static constexpr size_t kBufferSize = 64 * 1024;

  static sockaddr_in loopback(int port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    return addr;
  }

  void run(int broker_port) {
    const int client = accept(listener_, nullptr, nullptr);
    const int broker = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr = loopback(broker_port);
    if (client >= 0 && broker >= 0 && connect(broker, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
      pollfd fds[2] = {{client, POLLIN, 0}, {broker, POLLIN, 0}};
      std::string buffer(kBufferSize, '\0');
      bool closed = false;
      while (!closed && poll(fds, 2, kIdleMs) > 0) {
        for (int i = 0; i < 2 && !closed; ++i) {
          if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
          const ssize_t n = read(fds[i].fd, buffer.data(), buffer.size());
          closed = n <= 0 || write(fds[1 - i].fd, buffer.data(), static_cast<size_t>(n)) != n;
          if (closed) break;
          (i == 0 ? up_ : down_) += static_cast<uint64_t>(n);
          bytes_.append(buffer.data(), static_cast<size_t>(n));
        }
      }
    }
    if (client >= 0) close(client);
    if (broker >= 0) close(broker);
  }

  int listener_ = -1;
  int port_ = 0;
  bool ok_ = false;
  std::atomic<uint64_t> up_{0};
  std::atomic<uint64_t> down_{0};
  std::string bytes_;
  std::thread thread_;
};

}  // namespace mqseal::testing

#endif  // MQSEAL_TESTS_SUPPORT_TCP_RELAY_H_
