#include <mqseal/paho/async.h>

#include <cstdio>

int main() {
  // Links against the installed mqseal::paho and Paho; no broker needed.
  mqseal::paho::TlsFiles files;
  MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;
  const bool refused = !mqseal::paho::configure_tls(files, ssl);  // no CA file: refused
  std::printf("paho consumer: %s\n", refused ? "ok" : "unexpected");
  return refused ? 0 : 1;
}
