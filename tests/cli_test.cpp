// Runs the built `mqseal` binary (MQSEAL_CLI) as a user would: arguments,
// stdin, stdout, stderr, exit status, and the files it leaves behind.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <mqseal/credentials.h>
#include <mqseal/envelope.h>
#include <mqseal/replay_guard.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#ifndef MQSEAL_CLI
#error "MQSEAL_CLI must name the mqseal binary"
#endif

namespace {

struct Outcome {
  int status = -1;         // exit code, or 128 + signal
  bool timed_out = false;  // killed for outliving its time limit
  std::string out;
  std::string err;
};

// Far above what any command here needs (Argon2id in these tests is cheap),
// far below ctest's limit for the whole binary.
constexpr std::chrono::milliseconds kCommandTimeLimit{30'000};
constexpr std::chrono::milliseconds kPollInterval{5};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void write_file(const std::string& path, const std::string& text, mode_t mode = 0600) {
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
  }
  ASSERT_EQ(::chmod(path.c_str(), mode), 0) << path;
}

mode_t file_mode(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

std::vector<std::string> words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

std::vector<std::string> lines(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return s;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

std::string hex_of(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// The MATERIAL fields of a keyring file: "key NAME ID STATE MATERIAL ...".
std::vector<std::string> key_material(const std::string& keyring_text) {
  std::vector<std::string> out;
  for (const std::string& line : lines(keyring_text)) {
    std::vector<std::string> w = words(line);
    if (w.size() >= 5 && w[0] == "key" && w[4] != "-") out.push_back(w[4]);
  }
  return out;
}

constexpr const char* kPolicy =
    "version = 1\n"
    "\n"
    "[[rule]]\n"
    "filter = \"plant/+/telemetry\"\n"
    "key = \"telemetry\"\n"
    "\n"
    "[[rule]]\n"
    "filter = \"public/#\"\n"
    "plaintext = true\n";

constexpr const char* kPassword = "correct horse battery staple";

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "mqseal_cli_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    write_file(path("policy.toml"), kPolicy, 0644);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string path(const std::string& name) const { return dir_ + "/" + name; }

  // Runs mqseal with `args`, `input` on stdin; stdout and stderr captured.
  Outcome run(const std::vector<std::string>& args, const std::string& input = "") {
    Outcome r = run_program(MQSEAL_CLI, args, input, kCommandTimeLimit);
    EXPECT_FALSE(r.timed_out) << "mqseal did not end within its time limit";
    return r;
  }

  // Runs `program` with `args`; killed (SIGKILL) if it outlives `limit`.
  // Its standard output goes to `out_path` if given (not read back then: /dev/full, say).
  Outcome run_program(const char* program, const std::vector<std::string>& args, const std::string& input,
                      std::chrono::milliseconds limit, const std::string& stdout_to = "") {
    const std::string in_path = path(".stdin"), err_path = path(".stderr");
    const std::string out_path = stdout_to.empty() ? path(".stdout") : stdout_to;
    write_file(in_path, input);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(program));
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) {
      const int in = ::open(in_path.c_str(), O_RDONLY);
      const int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      const int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (in < 0 || out < 0 || err < 0 || ::dup2(in, 0) < 0 || ::dup2(out, 1) < 0 || ::dup2(err, 2) < 0) _exit(126);
      ::execv(program, argv.data());
      _exit(127);
    }
    Outcome r;
    if (pid < 0) return r;
    const auto deadline = std::chrono::steady_clock::now() + limit;
    int status = 0;
    for (;;) {
      const pid_t done = ::waitpid(pid, &status, WNOHANG);
      if (done == pid) break;
      if (done < 0 && errno != EINTR) return r;
      if (std::chrono::steady_clock::now() >= deadline) {
        r.timed_out = true;
        ::kill(pid, SIGKILL);
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        break;
      }
      std::this_thread::sleep_for(kPollInterval);
    }
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (stdout_to.empty()) r.out = read_file(out_path);
    r.err = read_file(err_path);
    return r;
  }

  // keygen that must succeed; returns the new key ID.
  std::string keygen(const std::string& keyring, const std::string& name) {
    Outcome r = run({"keygen", path(keyring), name});
    EXPECT_EQ(r.status, 0) << r.err;
    return trim(r.out);
  }

  // `keyring list` as ID -> the words of its line.
  std::vector<std::vector<std::string>> list(const std::string& keyring) {
    Outcome r = run({"keyring", "list", path(keyring)});
    EXPECT_EQ(r.status, 0) << r.err;
    std::vector<std::vector<std::string>> out;
    for (const std::string& line : lines(r.out)) out.push_back(words(line));
    return out;
  }

  Outcome provision(const std::string& user, const std::string& keyring, const std::string& creds,
                const std::string& input) {
    return run({"provision", user, "--device-keyring", path(keyring), "--credentials", path(creds), "--opslimit",
                "1", "--memlimit", "8192"},
               input);
  }

  std::string dir_;
};

const std::regex kKeyIdLine("^[0-9a-f]{8}\n$");

TEST_F(Cli, KeygenCreatesA0600KeyringAndNeitherItNorListShowsKeyBytes) {
  std::vector<Outcome> runs;
  runs.push_back(run({"keygen", path("k"), "telemetry"}));
  EXPECT_EQ(runs.back().status, 0) << runs.back().err;
  EXPECT_TRUE(std::regex_match(runs.back().out, kKeyIdLine)) << runs.back().out;
  EXPECT_EQ(file_mode(path("k")), 0600u);
  runs.push_back(run({"keygen", path("k"), "commands"}));
  EXPECT_EQ(runs.back().status, 0);
  runs.push_back(run({"keygen", path("k"), "telemetry"}));  // a second key of a name: active
  EXPECT_EQ(runs.back().status, 0);
  EXPECT_TRUE(contains(runs.back().err, "active")) << runs.back().err;
  runs.push_back(run({"keyring", "list", path("k")}));
  ASSERT_EQ(runs.back().status, 0);

  const std::vector<std::string> listed = lines(runs.back().out);
  ASSERT_EQ(listed.size(), 3u);
  EXPECT_EQ(words(listed[0]), (std::vector<std::string>{"telemetry", trim(runs[0].out), "primary"}));
  EXPECT_EQ(words(listed[1]), (std::vector<std::string>{"commands", trim(runs[1].out), "primary"}));
  EXPECT_EQ(words(listed[2]), (std::vector<std::string>{"telemetry", trim(runs[2].out), "active"}));

  const std::vector<std::string> material = key_material(read_file(path("k")));
  ASSERT_EQ(material.size(), 3u);
  for (const Outcome& r : runs) {
    for (const std::string& m : material) {
      for (const std::string& part : {m, upper(m), m.substr(0, 16), m.substr(48)}) {
        EXPECT_FALSE(contains(r.out, part) || contains(r.err, part)) << "key bytes printed: " << r.out << r.err;
      }
    }
    EXPECT_FALSE(std::regex_search(r.out + r.err, std::regex("[0-9a-fA-F]{16}"))) << r.out << r.err;
  }
}

TEST_F(Cli, AddPromoteRetire) {
  EXPECT_EQ(run({"keyring", "add", path("k"), "telemetry"}).status, 3);  // add needs the file
  EXPECT_FALSE(std::filesystem::exists(path("k")));
  const std::string first = keygen("k", "telemetry");
  Outcome added = run({"keyring", "add", path("k"), "telemetry"});
  ASSERT_EQ(added.status, 0) << added.err;
  ASSERT_TRUE(std::regex_match(added.out, kKeyIdLine));
  const std::string second = trim(added.out);
  EXPECT_EQ(list("k"), (std::vector<std::vector<std::string>>{{"telemetry", first, "primary"},
                                                              {"telemetry", second, "active"}}));

  Outcome promoted = run({"keyring", "promote", path("k"), "0x" + upper(second)});
  EXPECT_EQ(promoted.status, 0) << promoted.err;
  EXPECT_EQ(list("k"), (std::vector<std::vector<std::string>>{{"telemetry", first, "active"},
                                                              {"telemetry", second, "primary"}}));

  Outcome primary = run({"keyring", "retire", path("k"), second});
  EXPECT_EQ(primary.status, 1);
  EXPECT_EQ(primary.err.rfind("mqseal: invalid argument: " + second + ": cannot retire a primary key", 0), 0u)
      << primary.err;

  Outcome retired = run({"keyring", "retire", path("k"), first});
  EXPECT_EQ(retired.status, 0) << retired.err;
  EXPECT_EQ(list("k"), (std::vector<std::vector<std::string>>{{"telemetry", first, "retired"},
                                                              {"telemetry", second, "primary"}}));
  EXPECT_EQ(key_material(read_file(path("k"))).size(), 1u);  // the retired key's bytes are gone

  Outcome again = run({"keyring", "promote", path("k"), first});
  EXPECT_EQ(again.status, 1);
  EXPECT_EQ(again.err, "mqseal: key has been retired: " + first + "\n");
  Outcome unknown = run({"keyring", "promote", path("k"), "badf00d"});
  EXPECT_EQ(unknown.status, 1);
  EXPECT_EQ(unknown.err, "mqseal: key ID not in the keyring: 0badf00d\n");
  EXPECT_EQ(file_mode(path("k")), 0600u);
}

TEST_F(Cli, ProvisionReadsThePasswordFromStdinAndTheTokenVerifies) {
  Outcome p = provision("device-7", "device.keys", "broker.creds", std::string(kPassword) + "\n");
  ASSERT_EQ(p.status, 0) << p.err;
  ASSERT_TRUE(std::regex_match(p.out, kKeyIdLine)) << p.out;
  EXPECT_EQ(file_mode(path("device.keys")), 0600u);
  EXPECT_EQ(file_mode(path("broker.creds")), 0600u);
  Outcome listed = run({"keyring", "list", path("device.keys")});
  EXPECT_EQ(words(listed.out), (std::vector<std::string>{"connect", trim(p.out), "primary", "passphrase"}));

  const std::string keyring_text = read_file(path("device.keys"));
  const std::string creds_text = read_file(path("broker.creds"));
  for (const std::string& where : {keyring_text, creds_text, p.out, p.err, listed.out, listed.err}) {
    EXPECT_FALSE(contains(where, kPassword));
    EXPECT_FALSE(contains(where, "horse"));
    EXPECT_FALSE(contains(where, hex_of(kPassword)));
  }
  // The broker gets a subkey, never the device secret.
  ASSERT_EQ(key_material(keyring_text).size(), 1u);
  EXPECT_FALSE(contains(creds_text, key_material(keyring_text)[0]));

  // An existing username is refused, before any password is read (stdin is
  // empty: reading it first would fail with "no password" instead), and
  // nothing changes.
  Outcome twice = provision("device-7", "device.keys", "broker.creds", "");
  EXPECT_EQ(twice.status, 1);
  EXPECT_EQ(twice.err, "mqseal: invalid argument: user device-7 exists already in " + path("broker.creds") + "\n");
  EXPECT_EQ(read_file(path("device.keys")), keyring_text);
  EXPECT_EQ(read_file(path("broker.creds")), creds_text);

  // The password is never taken from the command line.
  EXPECT_EQ(run({"provision", "device-9", kPassword, "--device-keyring", path("d9.keys"), "--credentials",
                 path("broker.creds")})
                .status,
            2);
  Outcome empty = provision("device-9", "d9.keys", "broker.creds", "");
  EXPECT_EQ(empty.status, 1);
  EXPECT_EQ(empty.err, "mqseal: invalid argument: no password on standard input\n");
  EXPECT_FALSE(std::filesystem::exists(path("d9.keys")));

  // A second device in the same credentials file.
  Outcome other = provision("device-8", "device8.keys", "broker.creds", "another password\r\n");
  ASSERT_EQ(other.status, 0) << other.err;

  Outcome token = run({"token", "--device-keyring", path("device.keys"), "device-7", "client-7"});
  ASSERT_EQ(token.status, 0) << token.err;
  const std::string t = trim(token.out);
  EXPECT_EQ(t.rfind("mqs1.", 0), 0u);
  auto credentials = mqseal::Credentials::load(path("broker.creds"));
  ASSERT_TRUE(credentials) << credentials.error().message();
  EXPECT_EQ(credentials->size(), 2u);
  auto verifier = mqseal::TokenVerifier::create(std::move(*credentials));
  ASSERT_TRUE(verifier);
  EXPECT_TRUE(verifier->verify("device-7", "client-7", t));
  EXPECT_EQ(verifier->verify("device-7", "client-7", t).error(), mqseal::Errc::replay);
  EXPECT_EQ(verifier->verify("device-8", "client-7", t).error(), mqseal::Errc::authentication_failed);
  Outcome token8 = run({"token", "--device-keyring", path("device8.keys"), "device-8", "c", "--lifetime", "60"});
  ASSERT_EQ(token8.status, 0) << token8.err;
  EXPECT_TRUE(verifier->verify("device-8", "c", trim(token8.out)));
  // Names no token could verify for: refused, nothing printed.
  Outcome unprovisionable = run({"token", "--device-keyring", path("device.keys"), "device 7", "client-7"});
  EXPECT_EQ(unprovisionable.status, 1);
  EXPECT_EQ(unprovisionable.out, "");
  EXPECT_EQ(unprovisionable.err, "mqseal: invalid argument: usernames are 1-128 characters of [A-Za-z0-9_.@:-]: "
                                 "no token for another username could verify\n");
  Outcome not_utf8 = run({"token", "--device-keyring", path("device.keys"), "device-7", "client-\xff"});
  EXPECT_EQ(not_utf8.status, 1);
  EXPECT_EQ(not_utf8.out, "");
  EXPECT_EQ(not_utf8.err, "mqseal: invalid argument: the client ID is not well-formed UTF-8: no MQTT broker "
                          "delivers it, so no token for it could verify\n");

  Outcome no_connect_key = run({"token", "--device-keyring", path("k"), "device-7", "client-7"});
  EXPECT_EQ(no_connect_key.status, 3);  // missing
  keygen("k", "telemetry");
  no_connect_key = run({"token", "--device-keyring", path("k"), "device-7", "client-7"});
  EXPECT_EQ(no_connect_key.status, 1);
  EXPECT_EQ(no_connect_key.err, "mqseal: key name has no primary key: connect\n");
}

TEST_F(Cli, SealOpenRoundTripAndInspect) {
  const std::string id = keygen("k", "telemetry");
  std::string payload = std::string("21.5 C\n\0\xff binary", 16);
  for (int i = 0; i < 1000; ++i) payload.push_back(static_cast<char>(i * 7));
  const std::vector<std::string> seal_args = {"seal", "--keyring", path("k"), "--policy", path("policy.toml"),
                                              "plant/7/telemetry"};
  const uint64_t before_ms = mqseal::system_time_ms();
  Outcome sealed = run(seal_args, payload);
  ASSERT_EQ(sealed.status, 0) << sealed.err;
  EXPECT_EQ(sealed.err, "");
  ASSERT_EQ(sealed.out.size(), mqseal::sealed_size(payload.size()));
  EXPECT_FALSE(contains(sealed.out, "21.5 C"));

  Outcome opened = run({"open", "--keyring", path("k"), "--policy", path("policy.toml"), "plant/7/telemetry"}, sealed.out);
  ASSERT_EQ(opened.status, 0) << opened.err;
  EXPECT_EQ(opened.out, payload);

  Outcome inspected = run({"inspect"}, sealed.out);
  ASSERT_EQ(inspected.status, 0) << inspected.err;
  const std::vector<std::string> l = lines(inspected.out);
  ASSERT_EQ(l.size(), 8u) << inspected.out;
  EXPECT_EQ(l[0], "version    2");
  EXPECT_EQ(l[1], "suite      1 (XChaCha20-Poly1305)");
  EXPECT_EQ(l[2], "retain     sealed as live");
  EXPECT_EQ(l[3], "key ID     " + id);
  std::smatch m;
  ASSERT_TRUE(std::regex_match(l[4], m,
                               std::regex(R"(timestamp  (\d+) ms \(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\))")))
      << l[4];
  const uint64_t ts = std::stoull(m[1]);
  EXPECT_GE(ts, before_ms);
  EXPECT_LE(ts, mqseal::system_time_ms());
  EXPECT_EQ(l[5], "sender     " + hex_of(sealed.out.substr(mqseal::kAssociatedHeaderSize, 16)));
  EXPECT_TRUE(std::regex_match(l[6], std::regex(R"(sequence   \d+)"))) << l[6];
  EXPECT_EQ(l[7], "payload    " + std::to_string(payload.size()) + " bytes");

  Outcome retained = run({"seal", "--retain", "--keyring", path("k"), "--policy", path("policy.toml"),
                          "plant/7/telemetry"}, payload);
  ASSERT_EQ(retained.status, 0) << retained.err;
  EXPECT_TRUE(contains(run({"inspect"}, retained.out).out, "retain     sealed to be retained\n"));

  // A known timestamp, in UTC.
  std::string crafted = sealed.out;
  const uint64_t known = 1700000000123;  // 2023-11-14T22:13:20.123Z
  for (int i = 0; i < 8; ++i) crafted[7 + i] = static_cast<char>(known >> (56 - 8 * i));
  Outcome known_ts = run({"inspect"}, crafted);
  EXPECT_TRUE(contains(known_ts.out, "timestamp  1700000000123 ms (2023-11-14T22:13:20.123Z)\n")) << known_ts.out;

  // Another topic, a topic no rule covers, a plaintext topic.
  Outcome moved = run({"open", "--keyring", path("k"), "--policy", path("policy.toml"), "plant/8/telemetry"}, sealed.out);
  EXPECT_EQ(moved.status, 1);
  EXPECT_EQ(moved.out, "");
  EXPECT_EQ(moved.err.rfind("mqseal: authentication failed", 0), 0u) << moved.err;
  Outcome no_rule = run({"seal", "--keyring", path("k"), "--policy", path("policy.toml"), "other/topic"}, payload);
  EXPECT_EQ(no_rule.status, 1);
  EXPECT_EQ(no_rule.err, "mqseal: no policy rule covers this topic\n");
  Outcome plain = run({"seal", "--keyring", path("k"), "--policy", path("policy.toml"), "public/news"}, payload);
  EXPECT_EQ(plain.status, 0);
  EXPECT_EQ(plain.out, payload);
  EXPECT_TRUE(contains(plain.err, "plaintext")) << plain.err;

  // An empty payload seals too.
  Outcome empty = run(seal_args, "");
  ASSERT_EQ(empty.status, 0) << empty.err;
  EXPECT_EQ(empty.out.size(), mqseal::kEnvelopeOverhead);
}

TEST_F(Cli, ATamperedEnvelopeIsRefusedWithAClearMessage) {
  keygen("k", "telemetry");
  const std::vector<std::string> open_args = {"open", "--keyring", path("k"), "--policy", path("policy.toml"),
                                              "plant/7/telemetry"};
  Outcome sealed = run({"seal", "--keyring", path("k"), "--policy", path("policy.toml"), "plant/7/telemetry"},
                   "valve open");
  ASSERT_EQ(sealed.status, 0) << sealed.err;

  std::string flipped = sealed.out;
  flipped[mqseal::kHeaderSize + 2] = static_cast<char>(flipped[mqseal::kHeaderSize + 2] ^ 1);  // ciphertext
  Outcome r = run(open_args, flipped);
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "mqseal: authentication failed: altered, forged, or sealed for another topic\n");

  std::string timestamp = sealed.out;
  timestamp[14] = static_cast<char>(timestamp[14] ^ 1);  // header, authenticated
  r = run(open_args, timestamp);
  EXPECT_EQ(r.status, 1);
  EXPECT_TRUE(contains(r.err, "authentication failed")) << r.err;

  std::string key_id = sealed.out;
  key_id[3] = static_cast<char>(key_id[3] ^ 0x80);
  r = run(open_args, key_id);
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err, "mqseal: key ID not in the keyring\n");

  r = run(open_args, sealed.out.substr(0, 20));
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err.rfind("mqseal: malformed envelope", 0), 0u) << r.err;
}

TEST_F(Cli, InspectOfMalformedInputIsAClearError) {
  Outcome r = run({"inspect"}, "not an envelope");
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err.rfind("mqseal: malformed envelope", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1);

  r = run({"inspect"}, "");
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err.rfind("mqseal: malformed envelope", 0), 0u) << r.err;

  std::string v4(mqseal::kEnvelopeOverhead + 4, '\0');  // 3 is the compact envelope
  v4[0] = 4;
  v4[1] = 1;
  r = run({"inspect"}, v4);
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err.rfind("mqseal: unsupported envelope version", 0), 0u) << r.err;
}

TEST_F(Cli, UsageErrorsExit2) {
  const std::vector<std::vector<std::string>> wrong = {
      {},
      {"frobnicate"},
      {"keygen", path("k")},
      {"keygen", path("k"), "name", "extra"},
      {"keyring"},
      {"keyring", "list"},
      {"keyring", "promote", path("k"), "xyz"},
      {"keyring", "promote", path("k"), "0"},
      {"keyring", "retire", path("k"), "123456789"},
      {"seal", "--keyring", path("k"), "plant/7/telemetry"},
      {"open", "--policy", path("policy.toml"), "plant/7/telemetry"},
      {"token", "--device-keyring", path("k"), "device-7"},
      {"token", "--device-keyring", path("k"), "device-7", "client-7", "--lifetime", "0"},
      {"token", "--device-keyring", path("k"), "device-7", "client-7", "--lifetime", "-5"},
      {"provision", "device-7", "--device-keyring", path("k")},
      {"provision", "device-7", "--device-keyring", path("k"), "--credentials", path("c"), "--opslimit", "x"},
      {"inspect", "extra"},
  };
  for (const std::vector<std::string>& args : wrong) {
    Outcome r = run(args);
    std::string joined;
    for (const std::string& a : args) joined += a + " ";
    EXPECT_EQ(r.status, 2) << joined << "\n" << r.err;
    EXPECT_FALSE(r.err.empty()) << joined;
  }
  EXPECT_FALSE(std::filesystem::exists(path("k")));
  EXPECT_FALSE(std::filesystem::exists(path("c")));

  Outcome help = run({"--help"});
  EXPECT_EQ(help.status, 0);
  for (const char* text : {"Exit status", "0  success", "1  the operation was refused", "2  usage error",
                           "3  I/O error", "keygen", "keyring", "provision", "token", "seal", "open", "inspect"}) {
    EXPECT_TRUE(contains(help.out, text)) << text << "\n" << help.out;
  }
  EXPECT_EQ(run({"keyring", "promote", "--help"}).status, 0);
  EXPECT_EQ(run({"--version"}).status, 0);
}

TEST_F(Cli, MissingOrUnwritableFilesExit3) {
  Outcome r = run({"keyring", "list", path("missing")});
  EXPECT_EQ(r.status, 3);
  EXPECT_EQ(r.err.rfind("mqseal: input/output failed: cannot open " + path("missing"), 0), 0u) << r.err;
  keygen("k", "telemetry");
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"keyring", "promote", path("missing"), "1"},
           {"seal", "--keyring", path("missing"), "--policy", path("policy.toml"), "plant/7/telemetry"},
           {"seal", "--keyring", path("k"), "--policy", path("missing.toml"), "plant/7/telemetry"},
           {"open", "--keyring", path("missing"), "--policy", path("policy.toml"), "plant/7/telemetry"},
           {"token", "--device-keyring", path("missing"), "device-7", "client-7"},
           {"keygen", path("no/such/dir/k"), "telemetry"},
       }) {
    r = run(args, "payload");
    EXPECT_EQ(r.status, 3) << args[0] << " " << args[1] << "\n" << r.err;
    EXPECT_EQ(r.err.rfind("mqseal: input/output failed", 0), 0u) << r.err;
  }
  r = provision("device-7", "device.keys", "no/such/dir/creds", std::string(kPassword) + "\n");
  EXPECT_EQ(r.status, 3) << r.err;
}

// When the broker's file cannot be written, the device's keyring is left as
// it was: before, it kept the new "connect" key, so provisioning again added
// a second one (and made the first a stray active key).
TEST_F(Cli, AFailedProvisionLeavesTheDeviceKeyringAsItWas) {
  Outcome r = provision("device-7", "device.keys", "no/such/dir/creds", std::string(kPassword) + "\n");
  EXPECT_EQ(r.status, 3) << r.err;
  EXPECT_FALSE(std::filesystem::exists(path("device.keys"))) << "a keyring without a broker record";
  r = provision("device-7", "device.keys", "broker.creds", std::string(kPassword) + "\n");
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string keyring_text = read_file(path("device.keys"));
  EXPECT_EQ(key_material(keyring_text).size(), 1u) << keyring_text;

  // An existing keyring keeps its exact bytes (and no temporary file is left).
  r = provision("device-7", "device.keys", "no/such/dir/creds", std::string(kPassword) + "\n");
  EXPECT_EQ(r.status, 3) << r.err;
  EXPECT_EQ(read_file(path("device.keys")), keyring_text);
  EXPECT_EQ(file_mode(path("device.keys")), 0600u);
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    if (entry.path().filename().string()[0] != '.') ++files;
  }
  EXPECT_EQ(files, 3u) << "policy.toml, device.keys, broker.creds and nothing else";
}

// provision syncs each file's directory (three: the staged keyring, the
// broker's file, the keyring's rename). If one cannot be synced, it fails
// (exit 3) and says what is on disk, and still writes both files or neither:
// the first failing leaves neither; a later one, both.
TEST_F(Cli, AProvisionWhoseDirectoryCannotBeSyncedFailsAndWritesBothOrNeither) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "preloading a library before the ASan runtime is refused";
#endif
  for (const char* passes : {"0", "1", "2"}) {
    SCOPED_TRACE(passes);
    const std::string keys = std::string("device-") + passes + ".keys";
    const std::string creds = std::string("broker-") + passes + ".creds";
    ::setenv("LD_PRELOAD", MQSEAL_FSYNC_RECORDER, 1);
    ::setenv("MQSEAL_TEST_FAIL_DIRECTORY_FSYNC_AFTER", passes, 1);
    Outcome r = provision("device-7", keys, creds, std::string(kPassword) + "\n");
    ::unsetenv("LD_PRELOAD");
    ::unsetenv("MQSEAL_TEST_FAIL_DIRECTORY_FSYNC_AFTER");
    EXPECT_EQ(r.status, 3) << r.err;
    EXPECT_NE(r.err.find("could not be synced"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("power loss"), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(path(keys + ".provisioning")));
    if (std::string(passes) == "0") {
      EXPECT_NE(r.err.find("neither file was written"), std::string::npos) << r.err;
      EXPECT_FALSE(std::filesystem::exists(path(keys)));
      EXPECT_FALSE(std::filesystem::exists(path(creds)));
    } else {
      EXPECT_NE(r.err.find("both files hold device-7 now"), std::string::npos) << r.err;
      EXPECT_EQ(key_material(read_file(path(keys))).size(), 1u);
      EXPECT_NE(read_file(path(creds)).find("device-7"), std::string::npos);
    }
  }
}

// One file named as both the device's keyring and the broker's credentials
// (a slip when typing the command): provision wrote the broker's record, then
// renamed the device keyring over it, and exited 0: the broker's record was
// gone and the device secret sat where the broker's file belongs.
TEST_F(Cli, ProvisionRefusesOneFileForTheDeviceKeyringAndTheBrokersCredentials) {
  for (const std::string& keyring : {path("same"), dir_ + "/./same"}) {
    Outcome r = run({"provision", "device-7", "--device-keyring", keyring, "--credentials", path("same"),
                     "--opslimit", "1", "--memlimit", "8192"},
                    std::string(kPassword) + "\n");
    EXPECT_EQ(r.status, 2) << keyring << "\n" << r.err;
    EXPECT_TRUE(contains(r.err, "name the same file")) << r.err;
    EXPECT_FALSE(std::filesystem::exists(path("same")));
    EXPECT_FALSE(std::filesystem::exists(path("same.provisioning")));
  }
}

// A keyring or credentials file reached through a symbolic link: saving it
// replaced the link with a new file and exited 0, so whoever reads the file
// the link named (the broker, the device) never saw the change. Refused, with
// the link's target named, and nothing changed.
TEST_F(Cli, ASecretFileThatIsASymbolicLinkIsNotReplaced) {
  ASSERT_TRUE(std::filesystem::create_directory(path("real")));
  Outcome r = provision("device-7", "device.keys", "real/broker.creds", std::string(kPassword) + "\n");
  ASSERT_EQ(r.status, 0) << r.err;
  std::filesystem::create_symlink(path("real/broker.creds"), path("broker.creds"));
  const std::string creds_before = read_file(path("real/broker.creds"));
  r = provision("device-8", "device8.keys", "broker.creds", std::string(kPassword) + "\n");
  EXPECT_EQ(r.status, 3) << r.err;
  EXPECT_TRUE(contains(r.err, "is a symbolic link")) << r.err;
  EXPECT_TRUE(contains(r.err, path("real/broker.creds"))) << r.err;  // what to name instead
  EXPECT_TRUE(std::filesystem::is_symlink(path("broker.creds")));
  EXPECT_EQ(read_file(path("real/broker.creds")), creds_before);
  EXPECT_FALSE(std::filesystem::exists(path("device8.keys")));  // both files or neither

  keygen("real/k", "telemetry");
  std::filesystem::create_symlink(path("real/k"), path("k"));
  const std::string keyring_before = read_file(path("real/k"));
  r = run({"keyring", "add", path("k"), "telemetry"});
  EXPECT_EQ(r.status, 3) << r.err;
  EXPECT_TRUE(std::filesystem::is_symlink(path("k")));
  EXPECT_EQ(read_file(path("real/k")), keyring_before);
  r = run({"keyring", "add", path("real/k"), "telemetry"});  // the file itself, as the message says
  EXPECT_EQ(r.status, 0) << r.err;
}

// provision renames its staged keyring over --device-keyring: when that was a
// symbolic link, the link was replaced by a new file and provision exited 0,
// so the broker held the new user while the keyring the device reads (the
// link's target) never got its secret. Refused like every other save, before
// the password is read, and neither file is changed.
// keygen, keyring add and provision save the key, then print its ID. With
// standard output failing they said only "cannot write standard output": an
// operator running the command again got a second active key (or device
// key). Now the message says the key is saved, with its ID.
TEST_F(Cli, AKeyIdThatCannotBePrintedIsNamedOnStandardErrorAsSaved) {
  if (::access("/dev/full", W_OK) != 0) GTEST_SKIP() << "no /dev/full";
  auto to_full = [&](const std::vector<std::string>& args, const std::string& input = "") {
    Outcome r = run_program(MQSEAL_CLI, args, input, kCommandTimeLimit, "/dev/full");
    EXPECT_FALSE(r.timed_out);
    return r;
  };
  const std::regex saved("cannot write standard output: .*; the new key ([0-9a-f]{8}) is saved in ");
  std::smatch id;
  Outcome r = to_full({"keygen", path("k"), "telemetry"});
  EXPECT_EQ(r.status, 3) << r.err;
  ASSERT_TRUE(std::regex_search(r.err, id, saved)) << r.err;
  EXPECT_TRUE(contains(r.err, "is saved in " + path("k"))) << r.err;
  ASSERT_EQ(list("k").size(), 1u);
  EXPECT_EQ(list("k")[0][1], id[1].str());
  r = to_full({"keyring", "add", path("k"), "telemetry"});
  EXPECT_EQ(r.status, 3) << r.err;
  ASSERT_TRUE(std::regex_search(r.err, id, saved)) << r.err;
  ASSERT_EQ(list("k").size(), 2u);
  EXPECT_EQ(list("k")[1][1], id[1].str());
  r = to_full({"provision", "device-7", "--device-keyring", path("device.keys"), "--credentials", path("creds"),
               "--opslimit", "1", "--memlimit", "8192"},
              std::string(kPassword) + "\n");
  EXPECT_EQ(r.status, 3) << r.err;
  ASSERT_TRUE(std::regex_search(r.err, id, saved)) << r.err;
  EXPECT_TRUE(contains(r.err, "is saved in " + path("device.keys"))) << r.err;
  ASSERT_EQ(list("device.keys").size(), 1u);
  EXPECT_EQ(list("device.keys")[0][1], id[1].str());
}

TEST_F(Cli, ProvisionRefusesADeviceKeyringThatIsASymbolicLink) {
  ASSERT_TRUE(std::filesystem::create_directory(path("real")));
  Outcome r = provision("device-7", "real/device.keys", "broker.creds", std::string(kPassword) + "\n");
  ASSERT_EQ(r.status, 0) << r.err;
  std::filesystem::create_symlink(path("real/device.keys"), path("device.keys"));
  const std::string keyring_before = read_file(path("real/device.keys"));
  const std::string creds_before = read_file(path("broker.creds"));
  r = provision("device-8", "device.keys", "broker.creds", std::string(kPassword) + "\n");
  EXPECT_EQ(r.status, 3) << r.err;
  EXPECT_TRUE(contains(r.err, "is a symbolic link")) << r.err;
  EXPECT_TRUE(contains(r.err, path("real/device.keys"))) << r.err;  // what to name instead
  EXPECT_TRUE(std::filesystem::is_symlink(path("device.keys")));
  EXPECT_EQ(read_file(path("real/device.keys")), keyring_before);
  EXPECT_EQ(read_file(path("broker.creds")), creds_before);  // both files or neither
  EXPECT_FALSE(std::filesystem::exists(path("device.keys.provisioning")));
}

// A power loss between provision's two renames leaves the broker's file with
// the new user and the device's new keyring at KEYRING.provisioning (the docs:
// rename it into place). A later provision to the same keyring overwrote that
// file and exited 0: the first device's secret was lost while the broker kept
// its record. Refused (exit 3, naming the file), and nothing changed.
TEST_F(Cli, ProvisionKeepsTheKeyringAnUnfinishedProvisionLeft) {
  Outcome r = provision("device-7", "device.keys", "broker.creds", std::string(kPassword) + "\n");
  ASSERT_EQ(r.status, 0) << r.err;
  std::filesystem::rename(path("device.keys"), path("device.keys.provisioning"));  // as the power loss leaves it
  const std::string staged_before = read_file(path("device.keys.provisioning"));
  const std::string creds_before = read_file(path("broker.creds"));
  r = provision("device-8", "device.keys", "broker.creds", std::string(kPassword) + "\n");
  EXPECT_EQ(r.status, 3) << r.err;
  EXPECT_TRUE(contains(r.err, path("device.keys.provisioning"))) << r.err;
  EXPECT_EQ(read_file(path("device.keys.provisioning")), staged_before);
  EXPECT_EQ(read_file(path("broker.creds")), creds_before);
  EXPECT_FALSE(std::filesystem::exists(path("device.keys")));
  // Renamed into place, as the message says: provision goes on.
  std::filesystem::rename(path("device.keys.provisioning"), path("device.keys"));
  r = provision("device-8", "device.keys", "broker.creds", std::string(kPassword) + "\n");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(key_material(read_file(path("device.keys"))).size(), 2u);
}

// What the shell's side of the ^Z test found (its exit status), in order.
enum StopTest : int {
  kStopTestOk = 0,
  kStopTestNoPrompt = 10,       // echo never went off (no prompt)
  kStopTestNotStopped = 11,     // SIGTSTP did not stop mqseal
  kStopTestEchoOffStopped = 12, // echo still off while stopped (at the shell's prompt)
  kStopTestEchoOnResumed = 13,  // echo on once continued: the password would be shown
  kStopTestNoSecondPrompt = 14,
  kStopTestFailed = 15,         // mqseal did not exit 0
  kStopTestEchoed = 16,         // the password came back on the terminal
  kStopTestSetupFailed = 17,
};

bool echo_on(int tty) {
  struct termios t {};
  return ::tcgetattr(tty, &t) == 0 && (t.c_lflag & ECHO) != 0;
}

// Polls `done` every 10 ms for up to 10 s.
template <typename Done>
bool within_time(Done done) {
  for (int i = 0; i < 1000; ++i) {
    if (done()) return true;
    ::usleep(10000);
  }
  return false;
}

// The password prompt on a terminal, stopped with ^Z (SIGTSTP) and continued
// as a shell does it: bash puts its own settings back (echo on) when a job
// stops, and continues it (fg) without the job's. mqseal turned echo back on
// while stopped and left it on once continued, so the rest of the password
// was shown as typed. Run in a session of its own on a pseudo-terminal, the
// test's child acting as the shell (a stop signal to a process group with no
// parent in its session outside it, an orphaned one, is discarded).
TEST_F(Cli, APasswordPromptStoppedAndContinuedKeepsEchoOff) {
  const int master = ::posix_openpt(O_RDWR | O_NOCTTY);
  ASSERT_GE(master, 0);
  ASSERT_EQ(::grantpt(master), 0);
  ASSERT_EQ(::unlockpt(master), 0);
  const std::string slave_name = ::ptsname(master);
  const std::string out_path = path(".stdout"), err_path = path(".stderr");
  const std::string keyring = path("device.keys"), creds = path("broker.creds");
  const char* argv[] = {MQSEAL_CLI, "provision", "device-7", "--device-keyring", keyring.c_str(), "--credentials",
                        creds.c_str(), "--opslimit", "1", "--memlimit", "8192", nullptr};
  const pid_t shell = ::fork();
  ASSERT_GE(shell, 0);
  if (shell == 0) {
    ::signal(SIGTTOU, SIG_IGN);  // the shell sets the terminal from the background
    const int tty = ::setsid() < 0 ? -1 : ::open(slave_name.c_str(), O_RDWR);  // the controlling terminal
    if (tty < 0) _exit(kStopTestSetupFailed);
    const pid_t job = ::fork();
    if (job == 0) {
      ::setpgid(0, 0);
      ::tcsetpgrp(tty, ::getpgrp());
      ::signal(SIGTTOU, SIG_DFL);
      const int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      const int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (out < 0 || err < 0 || ::dup2(tty, 0) < 0 || ::dup2(out, 1) < 0 || ::dup2(err, 2) < 0) _exit(126);
      ::execv(MQSEAL_CLI, const_cast<char* const*>(argv));
      _exit(127);
    }
    ::setpgid(job, job);
    int status = 0;
    const auto result = [&](int code) {
      ::kill(job, SIGKILL);
      _exit(code);
    };
    if (!within_time([&] { return !echo_on(tty); })) result(kStopTestNoPrompt);
    ::kill(job, SIGTSTP);
    if (::waitpid(job, &status, WUNTRACED) != job || !WIFSTOPPED(status)) result(kStopTestNotStopped);
    const bool echo_while_stopped = echo_on(tty);
    // As bash: its own settings back at the prompt, then fg.
    ::tcsetpgrp(tty, ::getpgrp());
    struct termios t {};
    ::tcgetattr(tty, &t);
    t.c_lflag |= ECHO;
    ::tcsetattr(tty, TCSANOW, &t);
    ::tcsetpgrp(tty, job);
    ::kill(job, SIGCONT);
    if (!within_time([&] { return !echo_on(tty); })) result(kStopTestEchoOnResumed);
    if (!echo_while_stopped) result(kStopTestEchoOffStopped);
    const std::string line = std::string(kPassword) + "\n";
    if (::write(master, line.data(), line.size()) != static_cast<ssize_t>(line.size())) result(kStopTestSetupFailed);
    if (!within_time([&] { return contains(read_file(err_path), "(again): "); })) result(kStopTestNoSecondPrompt);
    ::usleep(100000);  // echo off again for the second line
    if (::write(master, line.data(), line.size()) != static_cast<ssize_t>(line.size())) result(kStopTestSetupFailed);
    if (::waitpid(job, &status, 0) != job || !WIFEXITED(status) || WEXITSTATUS(status) != 0) _exit(kStopTestFailed);
    char shown[4096];
    ::fcntl(master, F_SETFL, ::fcntl(master, F_GETFL) | O_NONBLOCK);  // nothing to read if nothing was shown
    const ssize_t n = ::read(master, shown, sizeof shown);  // what the terminal displayed
    if (n > 0 && contains(std::string(shown, static_cast<size_t>(n)), "horse")) _exit(kStopTestEchoed);
    _exit(kStopTestOk);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(shell, &status, 0), shell);
  ::close(master);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), kStopTestOk)
      << "10 no prompt, 11 not stopped, 12 echo off while stopped, 13 echo on once continued, 14 no second prompt, "
         "15 provision failed, 16 the password shown, 17 setup\nstderr: "
      << read_file(err_path);
  EXPECT_TRUE(std::regex_match(read_file(out_path), kKeyIdLine)) << read_file(out_path);
}

// A password put on the command line by mistake is never echoed back in the
// usage error (CLI11's own message quoted every unexpected argument), and
// usage errors start with "mqseal: " like every other error.
TEST_F(Cli, UsageErrorsNeverEchoWhatWasOnTheCommandLine) {
  const std::string secret = "hunter2 is my password";
  const std::vector<std::vector<std::string>> wrong = {
      {"provision", "device-9", secret, "--device-keyring", path("d9.keys"), "--credentials", path("c")},
      {"provision", "device-9", "--device-keyring", path("d9.keys"), "--credentials", path("c"),  //
       "--opslimit", secret},
      {"provision", "device-9", "--device-keyring", path("d9.keys"), "--credentials", path("c"),  //
       "--memlimit=" + secret},
      {"token", "--device-keyring", path("k"), "device-7", "client-7", secret},
      {"keygen", path("k"), "telemetry", secret},
      {secret},
  };
  for (const std::vector<std::string>& args : wrong) {
    Outcome r = run(args);
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_FALSE(contains(r.err, "hunter2")) << r.err;
    EXPECT_FALSE(contains(r.out, "hunter2")) << r.out;
    EXPECT_EQ(r.err.rfind("mqseal: ", 0), 0u) << r.err;
  }
  EXPECT_FALSE(std::filesystem::exists(path("d9.keys")));
}

// The harness's own wait is bounded: a program that never ends is killed and
// reported, instead of hanging the test until ctest's limit.
TEST_F(Cli, TheHarnessKillsAProgramThatOutlivesItsTimeLimit) {
  const auto start = std::chrono::steady_clock::now();
  Outcome r = run_program("/bin/sleep", {"60"}, "", std::chrono::milliseconds(300));
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.status, 128 + SIGKILL);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST_F(Cli, AKeyringOrCredentialsFileOthersCanReadIsRefused) {
  keygen("k", "telemetry");
  ASSERT_EQ(::chmod(path("k").c_str(), 0644), 0);
  const std::string before = read_file(path("k"));
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"keyring", "list", path("k")},
           {"keygen", path("k"), "telemetry"},
           {"keyring", "add", path("k"), "telemetry"},
           {"seal", "--keyring", path("k"), "--policy", path("policy.toml"), "plant/7/telemetry"},
           {"open", "--keyring", path("k"), "--policy", path("policy.toml"), "plant/7/telemetry"},
       }) {
    Outcome r = run(args, "payload");
    EXPECT_EQ(r.status, 3) << args[0];
    EXPECT_EQ(r.err, "mqseal: unsafe file permissions or owner: " + path("k") +
                         " is readable by group or others (chmod 600 it)\n");
    EXPECT_EQ(r.out, "");
  }
  EXPECT_EQ(read_file(path("k")), before);
  EXPECT_EQ(file_mode(path("k")), 0644u);

  write_file(path("broker.creds"), "mqseal-credentials v1\n", 0640);
  Outcome r = provision("device-7", "device.keys", "broker.creds", std::string(kPassword) + "\n");
  EXPECT_EQ(r.status, 3);
  EXPECT_TRUE(contains(r.err, "readable by group or others")) << r.err;
  EXPECT_FALSE(std::filesystem::exists(path("device.keys")));
}

}  // namespace

constexpr const char* kSignedPolicy =
    "version = 1\n"
    "\n"
    "[[rule]]\n"
    "filter = \"plant/{signer}/telemetry\"\n"
    "key = \"telemetry\"\n"
    "suite = 2\n";

// Suite 2 from the command line: signing key pairs made with keygen --type
// sign, their public halves exported (no secret in the export) and imported
// by a receiver, a signed round trip, inspect naming the signer, a device
// that cannot sign as another's level, and rotation of signing keys.
TEST_F(Cli, SigningKeysExportImportSignedRoundTripAndInspect) {
  write_file(path("signed.toml"), kSignedPolicy, 0644);
  const std::string topic_key = keygen("device7.keys", "telemetry");
  Outcome sign = run({"keygen", "--type", "sign", path("device7.keys"), "device-7"});
  ASSERT_EQ(sign.status, 0) << sign.err;
  ASSERT_TRUE(std::regex_match(sign.out, kKeyIdLine)) << sign.out;
  const std::string signer_id = trim(sign.out);
  EXPECT_EQ(list("device7.keys"), (std::vector<std::vector<std::string>>{{"telemetry", topic_key, "primary"},
                                                                         {"device-7", signer_id, "primary", "signing"}}));

  Outcome exported = run({"pubkey", "export", path("device7.keys")});
  ASSERT_EQ(exported.status, 0) << exported.err;
  const std::vector<std::string> exported_lines = lines(exported.out);
  ASSERT_EQ(exported_lines.size(), 2u) << exported.out;
  EXPECT_EQ(exported_lines[0], "mqseal-keyring v1");
  const std::vector<std::string> w = words(exported_lines[1]);
  ASSERT_EQ(w.size(), 5u) << exported.out;
  EXPECT_EQ(w[0], "trusted-ed25519");
  EXPECT_EQ(w[1], "device-7");
  EXPECT_EQ(w[2], signer_id);
  // Neither the seed nor the topic key is in the export.
  const std::string device_text = read_file(path("device7.keys"));
  for (const std::string& line : lines(device_text)) {
    const std::vector<std::string> f = words(line);
    if (f.size() >= 6 && f[0] == "signing-ed25519") {
      EXPECT_FALSE(contains(exported.out, f[4])) << "seed exported";
      EXPECT_EQ(f[5], w[4]);  // the public key
    }
    if (f.size() >= 5 && f[0] == "key") {
      EXPECT_FALSE(contains(exported.out, f[4])) << "topic key exported";
    }
  }

  // The backend: the topic key (copied as provisioning would) and device 7's public key.
  write_file(path("backend.keys"), device_text.substr(0, device_text.find("signing-ed25519")));
  write_file(path("device7.pub"), exported.out, 0644);
  // Readable by others is fine for public keys; writable by others is not: another
  // local user could choose whom we trust. Refused, and nothing written.
  const std::string backend_before = read_file(path("backend.keys"));
  for (mode_t mode : {0666, 0664, 0646, 0620, 0602}) {
    ASSERT_EQ(::chmod(path("device7.pub").c_str(), mode), 0);
    Outcome writable = run({"pubkey", "import", path("backend.keys"), path("device7.pub")});
    EXPECT_EQ(writable.status, 3) << mode;
    EXPECT_TRUE(contains(writable.err, path("device7.pub") + " is writable by group or others (chmod go-w it)"))
        << mode << ": " << writable.err;
    EXPECT_EQ(writable.out, "");
    EXPECT_EQ(read_file(path("backend.keys")), backend_before) << mode;
  }
  ASSERT_EQ(::chmod(path("device7.pub").c_str(), 0644), 0);
  Outcome imported = run({"pubkey", "import", path("backend.keys"), path("device7.pub")});
  ASSERT_EQ(imported.status, 0) << imported.err;
  EXPECT_EQ(imported.out, "device-7 " + signer_id + "\n");
  EXPECT_EQ(file_mode(path("backend.keys")), 0600u);
  EXPECT_EQ(list("backend.keys"), (std::vector<std::vector<std::string>>{
                                      {"telemetry", topic_key, "primary"},
                                      {"device-7", signer_id, "active", "trusted_signer"}}));
  Outcome again = run({"pubkey", "import", path("backend.keys"), path("device7.pub")});
  EXPECT_EQ(again.status, 0) << again.err;
  EXPECT_EQ(again.out, "");
  // A keyring with secrets in it is not a public key export.
  Outcome secret = run({"pubkey", "import", path("other.keys"), path("device7.keys")});
  EXPECT_EQ(secret.status, 1);
  EXPECT_TRUE(contains(secret.err, "not a public key export")) << secret.err;
  EXPECT_FALSE(std::filesystem::exists(path("other.keys")));

  const std::string payload = "21.5 C";
  Outcome sealed = run({"seal", "--keyring", path("device7.keys"), "--policy", path("signed.toml"),
                        "plant/device-7/telemetry"}, payload);
  ASSERT_EQ(sealed.status, 0) << sealed.err;
  EXPECT_EQ(sealed.out.size(), payload.size() + mqseal::kEnvelopeOverheadSigned);
  Outcome opened = run({"open", "--keyring", path("backend.keys"), "--policy", path("signed.toml"),
                        "plant/device-7/telemetry"}, sealed.out);
  ASSERT_EQ(opened.status, 0) << opened.err;
  EXPECT_EQ(opened.out, payload);  // stdout is the payload, exactly
  EXPECT_EQ(opened.err, "mqseal: signer=device-7\n");  // the verified signer

  Outcome inspected = run({"inspect"}, sealed.out);
  ASSERT_EQ(inspected.status, 0) << inspected.err;
  const std::vector<std::string> l = lines(inspected.out);
  ASSERT_EQ(l.size(), 9u) << inspected.out;
  EXPECT_EQ(l[1], "suite      2 (signed sender: Ed25519, XChaCha20-Poly1305)");
  EXPECT_EQ(l[3], "key ID     " + topic_key);
  EXPECT_EQ(l[4], "signer ID  " + signer_id);
  EXPECT_EQ(l[8], "payload    " + std::to_string(payload.size()) + " bytes");

  // Device 7 cannot sign for device 8's level, on the sealing side nor on the receiving one.
  Outcome forged = run({"seal", "--keyring", path("device7.keys"), "--policy", path("signed.toml"),
                        "plant/device-8/telemetry"}, payload);
  EXPECT_EQ(forged.status, 1);
  EXPECT_EQ(forged.err, "mqseal: the signer is not authorised to publish on this topic\n");
  Outcome no_signer = run({"seal", "--keyring", path("device7.keys"), "--policy", path("signed.toml"), "--signer",
                           "device-8", "plant/device-8/telemetry"}, payload);
  EXPECT_EQ(no_signer.status, 1);
  EXPECT_TRUE(contains(no_signer.err, "no primary key")) << no_signer.err;

  // Rotation: a second signing key pair, promoted; the old one retired.
  Outcome added = run({"keyring", "add", "--type", "sign", path("device7.keys"), "device-7"});
  ASSERT_EQ(added.status, 0) << added.err;
  const std::string second = trim(added.out);
  ASSERT_EQ(run({"keyring", "promote", path("device7.keys"), second}).status, 0);
  ASSERT_EQ(run({"keyring", "retire", path("device7.keys"), signer_id}).status, 0);
  EXPECT_EQ(list("device7.keys"), (std::vector<std::vector<std::string>>{
                                      {"telemetry", topic_key, "primary"},
                                      {"device-7", signer_id, "retired", "signing"},
                                      {"device-7", second, "primary", "signing"}}));
  Outcome rotated = run({"seal", "--keyring", path("device7.keys"), "--policy", path("signed.toml"),
                         "plant/device-7/telemetry"}, payload);
  ASSERT_EQ(rotated.status, 0) << rotated.err;
  EXPECT_TRUE(contains(run({"inspect"}, rotated.out).out, "signer ID  " + second + "\n"));
  // Not yet trusted by the backend; once imported, it opens; the retired key's
  // export revokes the old one there.
  Outcome untrusted = run({"open", "--keyring", path("backend.keys"), "--policy", path("signed.toml"),
                           "plant/device-7/telemetry"}, rotated.out);
  EXPECT_EQ(untrusted.status, 1);
  EXPECT_EQ(untrusted.err.rfind("mqseal: signer key ID not in the keyring", 0), 0u) << untrusted.err;
  write_file(path("device7.pub"), run({"pubkey", "export", path("device7.keys")}).out, 0644);
  Outcome rotated_import = run({"pubkey", "import", path("backend.keys"), path("device7.pub")});
  ASSERT_EQ(rotated_import.status, 0) << rotated_import.err;
  EXPECT_EQ(rotated_import.out, "device-7 " + second + "\n");
  EXPECT_TRUE(contains(rotated_import.err, "retired trusted signer device-7 " + signer_id)) << rotated_import.err;
  Outcome reopened = run({"open", "--keyring", path("backend.keys"), "--policy", path("signed.toml"),
                          "plant/device-7/telemetry"}, rotated.out);
  EXPECT_EQ(reopened.status, 0) << reopened.err;
  Outcome revoked = run({"open", "--keyring", path("backend.keys"), "--policy", path("signed.toml"),
                         "plant/device-7/telemetry"}, sealed.out);
  EXPECT_EQ(revoked.status, 1);
  EXPECT_EQ(revoked.err.rfind("mqseal: key has been retired", 0), 0u) << revoked.err;

  // Nothing printed anywhere holds a seed.
  for (const std::string& line : lines(read_file(path("device7.keys")))) {
    const std::vector<std::string> f = words(line);
    if (f.size() >= 6 && f[0] == "signing-ed25519" && f[4] != "-") {
      for (const Outcome* r : {&sign, &exported, &added, &rotated_import}) {
        EXPECT_FALSE(contains(r->out + r->err, f[4]));
      }
      EXPECT_FALSE(contains(run({"pubkey", "export", path("device7.keys")}).out, f[4]));
    }
  }
}

TEST_F(Cli, UnknownKeyTypesAreUsageErrors) {
  EXPECT_EQ(run({"keygen", "--type", "rsa", path("k"), "backend"}).status, 2);
  EXPECT_FALSE(std::filesystem::exists(path("k")));
  EXPECT_EQ(run({"pubkey", "export", path("missing")}).status, 3);
  EXPECT_EQ(run({"pubkey"}).status, 2);
}

constexpr const char* kRecipientPolicy =
    "version = 1\n"
    "\n"
    "[[rule]]\n"
    "filter = \"plant/+/report\"\n"
    "recipient = \"backend\"\n"
    "\n"
    "[[rule]]\n"
    "filter = \"plant/{signer}/private\"\n"
    "recipient = \"backend\"\n"
    "suite = 4\n";

// Suites 3 and 4 from the command line: a recipient key pair made with keygen
// --type recipient, its public half exported and imported by a device, which
// seals to it and then cannot open what it sealed; the backend opens; inspect
// shows the recipient key ID and the ephemeral key; suite 4 signs inside;
// the recipient rotates and devices follow by importing its export.
TEST_F(Cli, RecipientKeysExportImportSealedRoundTripAndInspect) {
  write_file(path("recipient.toml"), kRecipientPolicy, 0644);
  Outcome made = run({"keygen", "--type", "recipient", path("backend.keys"), "backend"});
  ASSERT_EQ(made.status, 0) << made.err;
  ASSERT_TRUE(std::regex_match(made.out, kKeyIdLine)) << made.out;
  const std::string recipient_id = trim(made.out);
  EXPECT_EQ(file_mode(path("backend.keys")), 0600u);
  EXPECT_EQ(list("backend.keys"),
            (std::vector<std::vector<std::string>>{{"backend", recipient_id, "primary", "recipient"}}));

  Outcome exported = run({"pubkey", "export", path("backend.keys")});
  ASSERT_EQ(exported.status, 0) << exported.err;
  const std::vector<std::string> exported_lines = lines(exported.out);
  ASSERT_EQ(exported_lines.size(), 2u) << exported.out;
  const std::vector<std::string> w = words(exported_lines[1]);
  ASSERT_EQ(w.size(), 5u) << exported.out;
  EXPECT_EQ(w[0], "recipient-public-x25519");
  EXPECT_EQ(w[1], "backend");
  EXPECT_EQ(w[2], recipient_id);
  EXPECT_EQ(w[3], "primary");
  std::string secret_hex;
  for (const std::string& line : lines(read_file(path("backend.keys")))) {
    const std::vector<std::string> f = words(line);
    if (f.size() == 6 && f[0] == "recipient-x25519") secret_hex = f[4];
  }
  ASSERT_EQ(secret_hex.size(), 64u);
  EXPECT_FALSE(contains(exported.out + made.out + made.err, secret_hex)) << "secret printed";

  // The device imports it: a file group or others may write, or one that
  // holds secrets, is refused and nothing is written.
  write_file(path("backend.pub"), exported.out, 0664);
  Outcome writable = run({"pubkey", "import", path("device8.keys"), path("backend.pub")});
  EXPECT_EQ(writable.status, 3);
  EXPECT_TRUE(contains(writable.err, "writable by group or others")) << writable.err;
  Outcome secret = run({"pubkey", "import", path("device8.keys"), path("backend.keys")});
  EXPECT_EQ(secret.status, 1);
  EXPECT_TRUE(contains(secret.err, "holds a recipient key (" + recipient_id + "): not a public key export"))
      << secret.err;
  EXPECT_FALSE(std::filesystem::exists(path("device8.keys")));
  ASSERT_EQ(::chmod(path("backend.pub").c_str(), 0644), 0);
  Outcome imported = run({"pubkey", "import", path("device8.keys"), path("backend.pub")});
  ASSERT_EQ(imported.status, 0) << imported.err;
  EXPECT_EQ(imported.out, "backend " + recipient_id + "\n");
  EXPECT_EQ(list("device8.keys"),
            (std::vector<std::vector<std::string>>{{"backend", recipient_id, "primary", "recipient_public"}}));

  // Suite 3: the device seals; only the backend opens, not the device itself.
  const std::string payload = "plant 8: valve 3 worn";
  const std::string topic = "plant/plant-8/report";
  Outcome sealed = run({"seal", "--keyring", path("device8.keys"), "--policy", path("recipient.toml"), topic}, payload);
  ASSERT_EQ(sealed.status, 0) << sealed.err;
  EXPECT_EQ(sealed.out.size(), payload.size() + mqseal::kEnvelopeOverheadRecipient);
  EXPECT_FALSE(contains(sealed.out, payload));
  Outcome opened = run({"open", "--keyring", path("backend.keys"), "--policy", path("recipient.toml"), topic},
                       sealed.out);
  ASSERT_EQ(opened.status, 0) << opened.err;
  EXPECT_EQ(opened.out, payload);
  EXPECT_EQ(opened.err, "");  // suite 3 authenticates no sender: no signer to name
  Outcome own = run({"open", "--keyring", path("device8.keys"), "--policy", path("recipient.toml"), topic},
                    sealed.out);
  EXPECT_EQ(own.status, 1);
  EXPECT_EQ(own.out, "");
  EXPECT_EQ(own.err.rfind("mqseal: key ID not in the keyring", 0), 0u) << own.err;

  Outcome inspected = run({"inspect"}, sealed.out);
  ASSERT_EQ(inspected.status, 0) << inspected.err;
  const std::vector<std::string> l = lines(inspected.out);
  ASSERT_EQ(l.size(), 9u) << inspected.out;
  EXPECT_EQ(l[1], "suite      3 (sealed to a recipient: X25519, XChaCha20-Poly1305)");
  EXPECT_EQ(l[3], "key ID     " + recipient_id + " (the recipient's key)");
  const std::string ephemeral = hex_of(sealed.out.substr(15, mqseal::kEphemeralKeySize));
  EXPECT_EQ(l[4], "ephemeral  " + ephemeral);
  EXPECT_EQ(l[8], "payload    " + std::to_string(payload.size()) + " bytes");

  // Suite 4: the device signs as plant-8, then seals; the backend trusts its key.
  Outcome signing = run({"keygen", "--type", "sign", path("device8.keys"), "plant-8"});
  ASSERT_EQ(signing.status, 0) << signing.err;
  const std::string signer_id = trim(signing.out);
  write_file(path("device8.pub"), run({"pubkey", "export", path("device8.keys")}).out, 0644);
  Outcome trusted = run({"pubkey", "import", path("backend.keys"), path("device8.pub")});
  ASSERT_EQ(trusted.status, 0) << trusted.err;
  EXPECT_EQ(trusted.out, "plant-8 " + signer_id + "\n");  // the backend's own key: held already
  const std::string private_topic = "plant/plant-8/private";
  Outcome signed_sealed = run(
      {"seal", "--keyring", path("device8.keys"), "--policy", path("recipient.toml"), private_topic}, payload);
  ASSERT_EQ(signed_sealed.status, 0) << signed_sealed.err;
  EXPECT_EQ(signed_sealed.out.size(), payload.size() + mqseal::kEnvelopeOverheadSignedSealed);
  Outcome opened4 = run({"open", "--keyring", path("backend.keys"), "--policy", path("recipient.toml"),
                         private_topic}, signed_sealed.out);
  ASSERT_EQ(opened4.status, 0) << opened4.err;
  EXPECT_EQ(opened4.out, payload);
  EXPECT_EQ(opened4.err, "mqseal: signer=plant-8\n");  // inside the ciphertext: only the recipient learns it
  const std::vector<std::string> l4 = lines(run({"inspect"}, signed_sealed.out).out);
  ASSERT_EQ(l4.size(), 10u);
  EXPECT_EQ(l4[1], "suite      4 (signed, then sealed to a recipient: Ed25519, X25519, XChaCha20-Poly1305)");
  EXPECT_EQ(l4[3], "key ID     " + recipient_id + " (the recipient's key)");
  EXPECT_EQ(l4[4].substr(0, 11), "ephemeral  ");
  EXPECT_EQ(l4[5], "signer     inside the ciphertext: only the recipient learns it");
  EXPECT_EQ(l4[9], "payload    " + std::to_string(payload.size()) + " bytes");
  EXPECT_FALSE(contains(l4[5], signer_id));
  Outcome elsewhere = run({"seal", "--keyring", path("device8.keys"), "--policy", path("recipient.toml"),
                           "plant/plant-7/private"}, payload);
  EXPECT_EQ(elsewhere.status, 1);
  EXPECT_EQ(elsewhere.err, "mqseal: the signer is not authorised to publish on this topic\n");

  // The recipient rotates: a new key pair, promoted; devices import the export
  // and seal to the new key; the old one, retired on the backend, is retired
  // on the device by the next import.
  Outcome second = run({"keyring", "add", "--type", "recipient", path("backend.keys"), "backend"});
  ASSERT_EQ(second.status, 0) << second.err;
  const std::string new_id = trim(second.out);
  ASSERT_EQ(run({"keyring", "promote", path("backend.keys"), new_id}).status, 0);
  write_file(path("backend.pub"), run({"pubkey", "export", path("backend.keys")}).out, 0644);
  Outcome rotated = run({"pubkey", "import", path("device8.keys"), path("backend.pub")});
  ASSERT_EQ(rotated.status, 0) << rotated.err;
  EXPECT_EQ(rotated.out, "backend " + new_id + "\n");
  EXPECT_TRUE(contains(rotated.err, "recipient backend " + new_id + " is now the one sealed to")) << rotated.err;
  EXPECT_EQ(list("device8.keys"), (std::vector<std::vector<std::string>>{
                                      {"backend", recipient_id, "active", "recipient_public"},
                                      {"plant-8", signer_id, "primary", "signing"},
                                      {"backend", new_id, "primary", "recipient_public"}}));
  Outcome resealed = run({"seal", "--keyring", path("device8.keys"), "--policy", path("recipient.toml"), topic},
                         payload);
  ASSERT_EQ(resealed.status, 0) << resealed.err;
  EXPECT_EQ(lines(run({"inspect"}, resealed.out).out)[3], "key ID     " + new_id + " (the recipient's key)");
  ASSERT_EQ(run({"keyring", "retire", path("backend.keys"), recipient_id}).status, 0);
  write_file(path("backend.pub"), run({"pubkey", "export", path("backend.keys")}).out, 0644);
  Outcome retired = run({"pubkey", "import", path("device8.keys"), path("backend.pub")});
  ASSERT_EQ(retired.status, 0) << retired.err;
  EXPECT_EQ(retired.out, "");
  EXPECT_TRUE(contains(retired.err, "retired recipient public key backend " + recipient_id)) << retired.err;
  EXPECT_EQ(list("device8.keys")[0], (std::vector<std::string>{"backend", recipient_id, "retired",
                                                                "recipient_public"}));
  EXPECT_EQ(run({"open", "--keyring", path("backend.keys"), "--policy", path("recipient.toml"), topic},
                resealed.out).out,
            payload);

  // Nothing printed anywhere holds a recipient's secret.
  for (const std::string& line : lines(read_file(path("backend.keys")))) {
    const std::vector<std::string> f = words(line);
    if (f.size() == 6 && f[0] == "recipient-x25519" && f[4] != "-") {
      for (const Outcome* r : {&made, &exported, &second, &rotated, &retired, &inspected}) {
        EXPECT_FALSE(contains(r->out + r->err, f[4]));
      }
    }
  }
}

// A receiver that never held a signer's key learns of its revocation from an
// export's retired line: it keeps the ID as a retired trusted signer (before,
// such lines were skipped and envelopes naming the key were unknown_key).
TEST_F(Cli, ImportKeepsARetiredSignerKeyItNeverHeldAsRetired) {
  write_file(path("signed.toml"), kSignedPolicy, 0644);
  const std::string topic_key = keygen("device7.keys", "telemetry");
  Outcome old_key = run({"keygen", "--type", "sign", path("device7.keys"), "device-7"});
  ASSERT_EQ(old_key.status, 0) << old_key.err;
  const std::string old_id = trim(old_key.out);
  Outcome sealed = run({"seal", "--keyring", path("device7.keys"), "--policy", path("signed.toml"),
                        "plant/device-7/telemetry"}, "x");
  ASSERT_EQ(sealed.status, 0) << sealed.err;
  const std::string new_id = trim(run({"keyring", "add", "--type", "sign", path("device7.keys"), "device-7"}).out);
  ASSERT_EQ(run({"keyring", "promote", path("device7.keys"), new_id}).status, 0);
  ASSERT_EQ(run({"keyring", "retire", path("device7.keys"), old_id}).status, 0);
  write_file(path("device7.pub"), run({"pubkey", "export", path("device7.keys")}).out, 0644);

  // A new backend: the topic key only.
  const std::string device_text = read_file(path("device7.keys"));
  write_file(path("backend.keys"), device_text.substr(0, device_text.find("signing-ed25519")));
  Outcome imported = run({"pubkey", "import", path("backend.keys"), path("device7.pub")});
  ASSERT_EQ(imported.status, 0) << imported.err;
  EXPECT_EQ(imported.out, "device-7 " + new_id + "\n");
  EXPECT_TRUE(contains(imported.err, "trusted signer device-7 " + old_id + " is known as retired only"))
      << imported.err;
  EXPECT_EQ(list("backend.keys"), (std::vector<std::vector<std::string>>{
                                      {"telemetry", topic_key, "primary"},
                                      {"device-7", old_id, "retired", "trusted_signer"},
                                      {"device-7", new_id, "active", "trusted_signer"}}));
  Outcome refused = run({"open", "--keyring", path("backend.keys"), "--policy", path("signed.toml"),
                         "plant/device-7/telemetry"}, sealed.out);
  EXPECT_EQ(refused.status, 1);
  EXPECT_EQ(refused.err.rfind("mqseal: key has been retired", 0), 0u) << refused.err;
  // Importing again changes nothing.
  const std::string before = read_file(path("backend.keys"));
  Outcome again = run({"pubkey", "import", path("backend.keys"), path("device7.pub")});
  EXPECT_EQ(again.status, 0) << again.err;
  EXPECT_EQ(again.out, "");
  EXPECT_EQ(read_file(path("backend.keys")), before);
}

// A compact envelope (v3) carries the seconds mod 2^24 only: inspect shows
// that field, and the time it stands for against this machine's clock (it
// printed a date in 1970 before).
TEST_F(Cli, InspectShowsACompactEnvelopesTimeAsSentAndAsRead) {
  write_file(path("compact.toml"), "version = 1\n[[rule]]\nfilter = \"field/#\"\nkey = \"telemetry\"\ncompact = true\n",
             0644);
  keygen("k", "telemetry");
  const auto now_s = [] {
    return static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  };
  const uint64_t before = now_s();
  Outcome sealed = run({"seal", "--keyring", path("k"), "--policy", path("compact.toml"), "field/1"}, "x");
  ASSERT_EQ(sealed.status, 0) << sealed.err;
  ASSERT_EQ(sealed.out.size(), 1 + mqseal::kEnvelopeOverheadCompact);
  Outcome inspected = run({"inspect"}, sealed.out);
  const uint64_t after = now_s();
  ASSERT_EQ(inspected.status, 0) << inspected.err;
  const std::vector<std::string> l = lines(inspected.out);
  ASSERT_EQ(l.size(), 9u) << inspected.out;
  EXPECT_EQ(l[0], "version    3 (compact)");
  std::smatch m;
  ASSERT_TRUE(std::regex_match(l[4], m, std::regex(R"(time_s     (\d+) \(seconds since 1970 mod 2\^24: all that v3 sends\))")))
      << l[4];
  const uint64_t field = std::stoull(m[1]);
  EXPECT_TRUE(field >= before % (1u << 24) && field <= after % (1u << 24)) << field;  // no wrap within the test
  ASSERT_TRUE(std::regex_match(
      l[5], m, std::regex(R"(timestamp  (\d+) ms \((\d{4})-\S+Z\) by this machine's clock: the latest such second at most 2\^20 s ahead of it)")))
      << l[5];
  const uint64_t read_s = std::stoull(m[1]) / 1000;
  EXPECT_TRUE(read_s >= before && read_s <= after) << l[5];
  EXPECT_NE(m[2], "1970");
  EXPECT_EQ(l[6].substr(0, 11), "session    ");
  EXPECT_EQ(l[6].size(), 11u + 2 * mqseal::kCompactSessionSize);
  EXPECT_EQ(l[8], "payload    1 bytes");
}
