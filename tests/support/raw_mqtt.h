// MQTT 3.1.1 packets as raw bytes on a loopback socket: what an attacker (or
// a measurement that must not include a client library's polling) sends,
// whatever the client libraries would refuse to send.
#ifndef MQSEAL_TESTS_SUPPORT_RAW_MQTT_H_
#define MQSEAL_TESTS_SUPPORT_RAW_MQTT_H_

#include <cstdint>
#include <string>

namespace mqseal::testing {

// A control packet: the first byte (type and flags), the remaining length in
// MQTT's variable-length encoding, the body.
std::string mqtt_packet(uint8_t first_byte, const std::string& body);

// An MQTT string: two bytes of length, big endian, then the bytes.
std::string mqtt_string(const std::string& s);

// A CONNECT with a username and password, clean session, keep-alive 60 s.
std::string connect_packet(const std::string& client_id, const std::string& username,
                           const std::string& password);

// A TCP connection to 127.0.0.1:port with a receive timeout and TCP_NODELAY;
// -1 if it cannot be made.
int connect_loopback(int port, int receive_timeout_ms);

// Sends `bytes` whole; false if the connection took fewer.
bool send_all(int fd, const std::string& bytes);

// Sends one CONNECT on a fresh connection: the CONNACK return code (0
// accepted, 5 not authorised, ...), or -1 if none came within the timeout
// (refused by closing, or no answer).
int connack_code(int port, const std::string& connect, int receive_timeout_ms = 5000);

}  // namespace mqseal::testing

#endif  // MQSEAL_TESTS_SUPPORT_RAW_MQTT_H_
