#include "raw_mqtt.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

namespace mqseal::testing {

std::string mqtt_packet(uint8_t first_byte, const std::string& body) {
  std::string out(1, static_cast<char>(first_byte));
  size_t length = body.size();
  do {
    char byte = static_cast<char>(length % 128);
    length /= 128;
    if (length > 0) byte = static_cast<char>(byte | 0x80);
    out.push_back(byte);
  } while (length > 0);
  return out + body;
}

std::string mqtt_string(const std::string& s) {
  return std::string{static_cast<char>((s.size() >> 8) & 0xff), static_cast<char>(s.size() & 0xff)} + s;
}

std::string connect_packet(const std::string& client_id, const std::string& username,
                           const std::string& password) {
  constexpr char kLevel311 = 4;
  constexpr char kUsernamePasswordCleanSession = static_cast<char>(0xC2);
  constexpr char kKeepAliveSeconds[] = {0, 60};
  std::string body = mqtt_string("MQTT");
  body += kLevel311;
  body += kUsernamePasswordCleanSession;
  body.append(kKeepAliveSeconds, sizeof kKeepAliveSeconds);
  body += mqtt_string(client_id) + mqtt_string(username) + mqtt_string(password);
  constexpr uint8_t kConnect = 0x10;
  return mqtt_packet(kConnect, body);
}

int connect_loopback(int port, int receive_timeout_ms) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  timeval timeout{receive_timeout_ms / 1000, (receive_timeout_ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

bool send_all(int fd, const std::string& bytes) {
  return send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
}

int connack_code(int port, const std::string& connect, int receive_timeout_ms) {
  const int fd = connect_loopback(port, receive_timeout_ms);
  if (fd < 0) return -1;
  int code = -1;
  if (send_all(fd, connect)) {
    unsigned char connack[4] = {};
    constexpr unsigned char kConnack = 0x20;
    if (recv(fd, connack, sizeof connack, MSG_WAITALL) == 4 && connack[0] == kConnack) code = connack[3];
  }
  close(fd);
  return code;
}

}  // namespace mqseal::testing
