#include <mqseal/credentials.h>
#include <mqseal/keyring.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <random>
#include <string>

#include "fsync_recorder.h"
#include "test_util.h"

namespace mqseal {
namespace {

constexpr uid_t kNobodyUid = 65534;  // Debian's nobody

using testing::take;

TEST(Keyring, FirstKeyOfANameIsPrimary) {
  Keyring ring;
  KeyId a = take(ring.generate("telemetry"));
  KeyId b = take(ring.generate("telemetry"));
  EXPECT_NE(a, b);
  EXPECT_EQ(take(ring.primary("telemetry")), a);
  EXPECT_EQ(take(ring.info(b)).state, KeyState::active);
  EXPECT_EQ(ring.primary("other").error(), Errc::no_primary_key);
}

TEST(Keyring, RotationAddPromoteRetire) {
  Keyring ring;
  KeyId old_id = take(ring.generate("t"));
  KeyId new_id = take(ring.generate("t"));
  testing::expect_ok(ring.promote(new_id));
  EXPECT_EQ(take(ring.primary("t")), new_id);
  EXPECT_EQ(take(ring.info(old_id)).state, KeyState::active);
  EXPECT_EQ(ring.retire(new_id).error(), Errc::invalid_argument);  // primary
  testing::expect_ok(ring.retire(old_id));
  EXPECT_EQ(take(ring.info(old_id)).state, KeyState::retired);
  EXPECT_EQ(ring.promote(old_id).error(), Errc::key_retired);
  EXPECT_EQ(ring.promote(12345).error(), Errc::unknown_key);
  EXPECT_EQ(ring.retire(12345).error(), Errc::unknown_key);
}

TEST(Keyring, RejectsBadNamesAndIds) {
  Keyring ring;
  EXPECT_EQ(ring.generate("").error(), Errc::invalid_argument);
  EXPECT_EQ(ring.generate("has space").error(), Errc::invalid_argument);
  EXPECT_EQ(ring.generate(std::string(kMaxKeyNameSize + 1, 'a')).error(), Errc::invalid_argument);
  EXPECT_EQ(ring.add_with_id("t", 0, take(Key::generate())).error(), Errc::invalid_argument);
  testing::expect_ok(ring.add_with_id("t", 7, take(Key::generate())));
  EXPECT_EQ(ring.add_with_id("u", 7, take(Key::generate())).error(), Errc::invalid_argument);
}

TEST(Keyring, ListNeverShowsKeyBytes) {
  Keyring ring;
  KeyId id = take(ring.generate("t"));
  std::vector<KeyInfo> list = ring.list();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].id, id);
  EXPECT_EQ(list[0].name, "t");
  static_assert(sizeof(KeyInfo) < 200, "KeyInfo holds no key material");
}

TEST(Keyring, SerializeParseRoundTrip) {
  Keyring ring;
  KeyId a = take(ring.generate("telemetry"));
  KeyId b = take(ring.generate("telemetry"));
  PassphraseParams p = take(PassphraseParams::generate());
  p.opslimit = 1;
  p.memlimit = 8192;
  testing::expect_ok(ring.add_with_id("commands", 0xdeadbeef,
                                      take(Key::from_passphrase("pw", p)), p));
  testing::expect_ok(ring.promote(b));
  testing::expect_ok(ring.retire(a));
  std::string text = take(ring.serialize());
  Keyring back = take(Keyring::parse(text));
  ASSERT_EQ(back.size(), 3u);
  EXPECT_EQ(take(back.primary("telemetry")), b);
  EXPECT_EQ(take(back.info(a)).state, KeyState::retired);
  KeyInfo cmd = take(back.info(0xdeadbeef));
  ASSERT_TRUE(cmd.passphrase.has_value());
  EXPECT_EQ(cmd.passphrase->salt, p.salt);
  EXPECT_EQ(take(back.serialize()), text);
}

TEST(Keyring, ParseRejectsEveryMalformedLine) {
  const std::string material(64, 'a');
  const std::string good = "mqseal-keyring v1\nkey t 0000000a primary " + material + "\n";
  ASSERT_TRUE(Keyring::parse(good));
  const std::string bad[] = {
      "",
      "# only a comment\n",
      "mqseal-keyring v2\n",
      "mqseal-keyring v1\nkey t 0000000a primary " + material.substr(1) + "\n",
      "mqseal-keyring v1\nkey t 0000000a primary " + material + "0\n",
      "mqseal-keyring v1\nkey t 0000000a primary " + std::string(64, 'g') + "\n",
      "mqseal-keyring v1\nkey t 00000000 primary " + material + "\n",
      "mqseal-keyring v1\nkey t 0000000 primary " + material + "\n",
      "mqseal-keyring v1\nkey t 0000000a chief " + material + "\n",
      "mqseal-keyring v1\nkey t 0000000a retired " + material + "\n",
      "mqseal-keyring v1\nkey t 0000000a active -\n",
      "mqseal-keyring v1\nkey bad!name 0000000a primary " + material + "\n",
      "mqseal-keyring v1\nkey t 0000000a primary " + material + "\nkey t 0000000a active " + material + "\n",
      "mqseal-keyring v1\nkey t 0000000a primary " + material + "\nkey t 0000000b primary " + material + "\n",
      "mqseal-keyring v1\nkey t 0000000a primary " + material + " argon2id 00 1 8192\n",
      "mqseal-keyring v1\nkey t 0000000a primary " + material + " argon2id " + std::string(32, '0') + " 0 8192\n",
      "mqseal-keyring v1\nkey t 0000000a primary " + material + " argon2id " + std::string(32, '0') + " 1 99999999999999999999999\n",
      "mqseal-keyring v1\nkey  t 0000000a primary " + material + "\n",
      "mqseal-keyring v1\nkey t 0000000a primary " + material + " \n",
      "mqseal-keyring v1\r\nkey t 0000000a primary " + material + "\n",
      "mqseal-keyring v1\nkey t 0000000a primary " + material + "\r\n",
      std::string("mqseal-keyring v1\nkey t\0 0000000a primary ", 41) + material + "\n",
      "mqseal-keyring v1\nlock t 0000000a primary " + material + "\n",
      "mqseal-keyring v1\nkey t 0000000a primary\n",
  };
  for (const std::string& text : bad) {
    Result<Keyring> r = Keyring::parse(text);
    ASSERT_FALSE(r) << text;
    EXPECT_EQ(r.error(), Errc::parse_error) << text;
    EXPECT_EQ(r.error().message().find(material), std::string::npos) << "key text in an error";
  }
}

// A keyring file holds at most kMaxKeyringKeys keys, as a Keyring does.
TEST(Keyring, ParseTakesExactlyTheMaximumNumberOfKeys) {
  const std::string material(64, 'a');
  std::string text = "mqseal-keyring v1\n";
  char id[9];
  for (size_t i = 1; i <= kMaxKeyringKeys; ++i) {
    std::snprintf(id, sizeof id, "%08zx", i);
    text += std::string("key t ") + id + " active " + material + "\n";
  }
  EXPECT_EQ(take(Keyring::parse(text)).size(), kMaxKeyringKeys);
  text += "key t 7fffffff active " + material + "\n";
  Result<Keyring> one_more = Keyring::parse(text);
  ASSERT_FALSE(one_more);
  EXPECT_EQ(one_more.error(), Errc::parse_error);
  EXPECT_NE(one_more.error().message().find("too many keys"), std::string::npos) << one_more.error().message();
}

TEST(Keyring, ParseNeverCrashesOnTruncations) {
  Keyring ring;
  (void)take(ring.generate("t"));
  (void)take(ring.generate("t"));
  std::string text = take(ring.serialize());
  for (size_t n = 0; n < text.size(); ++n) {
    (void)Keyring::parse(std::string_view(text).substr(0, n));  // any answer but a crash
  }
}

TEST(Keyring, RandomMutationsGiveParseErrorsOnly) {
  Keyring ring;
  (void)take(ring.generate("t"));
  (void)take(ring.generate("u"));
  const std::string text = take(ring.serialize());
  std::mt19937_64 rng(7);
  for (int i = 0; i < 5000; ++i) {
    std::string mutated = text;
    for (int e = 0; e < 1 + static_cast<int>(rng() % 3); ++e) {
      mutated[rng() % mutated.size()] = static_cast<char>(rng());
    }
    Result<Keyring> r = Keyring::parse(mutated);
    if (!r) {
      EXPECT_EQ(r.error(), Errc::parse_error) << r.error().message();
    }
  }
}

TEST(Keyring, SaveUses0600AndLoadRefusesLooserModes) {
  testing::TempDir dir;
  Keyring ring;
  KeyId id = take(ring.generate("t"));
  const std::string path = dir.file("ring.keys");
  testing::expect_ok(ring.save(path));
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  Keyring back = take(Keyring::load(path));
  EXPECT_EQ(take(back.primary("t")), id);

  chmod(path.c_str(), 0640);
  EXPECT_EQ(Keyring::load(path).error(), Errc::insecure_permissions);
  chmod(path.c_str(), 0604);
  EXPECT_EQ(Keyring::load(path).error(), Errc::insecure_permissions);
  EXPECT_TRUE(Keyring::load(path, LoadOptions{true}));
  EXPECT_EQ(Keyring::load(dir.file("missing")).error(), Errc::io_error);
  EXPECT_EQ(Keyring::load(dir.path()).error(), Errc::io_error);  // a directory
  // A character device, root's and mode 0666: not a regular file, so refused
  // before its owner, its mode or its (empty) content are looked at.
  EXPECT_EQ(Keyring::load("/dev/null").error(), Errc::io_error);
  EXPECT_EQ(Keyring::load("/dev/null", LoadOptions{true}).error(), Errc::io_error);
  // A FIFO at the keyring's path: refused at once, not waiting for a writer
  // that never comes (the loader used to block in open()).
  ASSERT_EQ(mkfifo(dir.file("fifo").c_str(), 0600), 0);
  EXPECT_EQ(Keyring::load(dir.file("fifo")).error(), Errc::io_error);
}

// A save is durable once it returns: the temporary file is synced, renamed
// into place, and then its directory is synced (without that, a power loss
// right after `mqseal provision` could bring the old keyring or credentials
// back, or no file at all). A directory that cannot be synced is an io_error
// saying so, while the new content is in place: the caller may not report a
// success it cannot promise. The same for both files (one line-file writer).
TEST(Keyring, ASaveSyncsItsDirectoryAfterTheRenameAndFailsIfItCannot) {
  testing::TempDir dir;
  const std::string directory = std::filesystem::canonical(dir.path()).string();
  Keyring ring;
  (void)take(ring.generate("t"));
  const std::string keys = dir.file("ring.keys");
  const std::string creds = dir.file("broker.credentials");
  const auto saves = [&](const std::string& name, auto save) {
    (void)testing::take_synced();
    testing::expect_ok(save());
    const std::vector<std::string> synced = testing::take_synced();
    ASSERT_EQ(synced.size(), 2u) << name;
    EXPECT_EQ(synced[0].rfind(directory + "/" + name + ".tmp.", 0), 0u) << synced[0];  // before the rename
    EXPECT_EQ(synced[1], directory) << name;                                            // after it
  };
  saves("ring.keys", [&] { return ring.save(keys); });
  saves("broker.credentials", [&] { return Credentials().save(creds); });

  const KeyId added = take(ring.generate("u"));
  testing::fail_directory_fsync(true);
  const Status keys_saved = ring.save(keys);
  const Status creds_saved = Credentials().save(creds);
  testing::fail_directory_fsync(false);
  for (const Status* saved : {&keys_saved, &creds_saved}) {
    ASSERT_FALSE(*saved);
    EXPECT_EQ(saved->error(), Errc::io_error);
    EXPECT_NE(saved->error().detail().find("could not be synced"), std::string::npos) << saved->error().detail();
    EXPECT_NE(saved->error().detail().find("power loss"), std::string::npos) << saved->error().detail();
  }
  EXPECT_TRUE(take(Keyring::load(keys)).info(added));  // in place, only not known durable
}

// A file that does not parse names its path and line, "PATH: line N: why",
// the same way for the keyring and the credentials file (both are loaded
// through one line-file loader).
TEST(Keyring, ALoadErrorNamesThePathAndTheLineLikeTheCredentialsFile) {
  testing::TempDir dir;
  const std::string keys = dir.file("ring.keys");
  const std::string creds = dir.file("broker.credentials");
  testing::write_file(keys, "mqseal-keyring v1\n# a comment\nkey\n", 0600);
  testing::write_file(creds, "mqseal-credentials v1\n# a comment\nuser\n", 0600);
  Result<Keyring> ring = Keyring::load(keys);
  Result<Credentials> credentials = Credentials::load(creds);
  ASSERT_FALSE(ring);
  ASSERT_FALSE(credentials);
  EXPECT_EQ(ring.error(), Errc::parse_error);
  EXPECT_EQ(credentials.error(), Errc::parse_error);
  EXPECT_EQ(ring.error().detail().rfind(keys + ": line 3: ", 0), 0u) << ring.error().detail();
  EXPECT_EQ(credentials.error().detail().rfind(creds + ": line 3: ", 0), 0u) << credentials.error().detail();
  // A control character is refused the same way in both, even in a comment.
  testing::write_file(keys, "mqseal-keyring v1\n# a\rcomment\n", 0600);
  testing::write_file(creds, std::string("mqseal-credentials v1\n# a\0comment\n", 34), 0600);
  ring = Keyring::load(keys);
  credentials = Credentials::load(creds);
  ASSERT_FALSE(ring);
  ASSERT_FALSE(credentials);
  EXPECT_EQ(ring.error().detail(), keys + ": line 2: control character (CR or NUL) in line");
  EXPECT_EQ(credentials.error().detail(), creds + ": line 2: control character (CR or NUL) in line");
  // parse() has no path to name: the line alone.
  EXPECT_EQ(Keyring::parse("mqseal-keyring v1\nkey\n").error().detail().rfind("line 2: ", 0), 0u);
}

// A 0600 file owned by another user is refused, whatever its mode: that user
// could have written its keys. Root's files are accepted (root can replace
// any file anyway). The check is on the opened descriptor (fstat).
TEST(Keyring, LoadRefusesAFileOwnedByAnotherUser) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to chown a file to another user";
  testing::TempDir dir;
  Keyring ring;
  (void)take(ring.generate("t"));
  const std::string path = dir.file("ring.keys");
  testing::expect_ok(ring.save(path));
  ASSERT_EQ(chown(path.c_str(), kNobodyUid, kNobodyUid), 0);
  Result<Keyring> loaded = Keyring::load(path);
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error(), Errc::insecure_permissions);
  EXPECT_NE(loaded.error().message().find("owned by uid 65534"), std::string::npos) << loaded.error().message();
  Result<Keyring> loose = Keyring::load(path, LoadOptions{true});
  ASSERT_FALSE(loose) << "allowing loose modes does not allow another owner";
  EXPECT_EQ(loose.error(), Errc::insecure_permissions);
  ASSERT_EQ(chown(path.c_str(), 0, 0), 0);
  EXPECT_TRUE(Keyring::load(path));
}

TEST(Keyring, CloneIsDeep) {
  Keyring ring;
  KeyId a = take(ring.generate("t"));
  Keyring copy = take(ring.clone());
  KeyId b = take(copy.generate("t"));
  testing::expect_ok(copy.promote(b));
  EXPECT_EQ(take(ring.primary("t")), a);
  EXPECT_EQ(take(copy.primary("t")), b);
  EXPECT_EQ(ring.size(), 1u);
}

}  // namespace
}  // namespace mqseal
