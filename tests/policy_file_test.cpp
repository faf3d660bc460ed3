#include <mqseal/policy_file.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <random>

#include "test_util.h"

namespace mqseal {
namespace {

TEST(PolicyFile, ParsesRules) {
  Result<TopicPolicy> policy = parse_policy(R"(
version = 1

[[rule]]
filter = "plant/+/telemetry"
key = "telemetry"

[[rule]]
filter = "public/#"
plaintext = true
)");
  ASSERT_TRUE(policy) << policy.error().message();
  EXPECT_EQ((*policy->resolve("plant/3/telemetry"))->key_name, "telemetry");
  EXPECT_TRUE((*policy->resolve("public/x"))->plaintext);
  EXPECT_EQ(policy->resolve("plant/3/other").error(), Errc::no_rule);
}

TEST(PolicyFile, EmptyFileIsAnEmptyPolicy) {
  Result<TopicPolicy> policy = parse_policy("");
  ASSERT_TRUE(policy);
  EXPECT_TRUE(policy->rules().empty());
}

TEST(PolicyFile, RejectsWhatItDoesNotUnderstand) {
  struct Case {
    const char* text;
    Errc code;
    const char* says;
  };
  const Case cases[] = {
      {"version = 2\n", Errc::parse_error, "version"},
      {"versio = 1\n", Errc::parse_error, "unknown top-level field 'versio'"},
      {"[[rule]]\nfilter = \"a\"\n", Errc::parse_error, "exactly one"},
      {"[[rule]]\nfilter = \"a\"\nkey = \"k\"\nplaintext = true\n", Errc::parse_error, "exactly one"},
      {"[[rule]]\nfilter = \"a\"\nplaintext = false\n", Errc::parse_error, "only be true"},
      {"[[rule]]\nfilter = \"a\"\nkey = 3\n", Errc::parse_error, "must be a string"},
      {"[[rule]]\nkey = \"k\"\n", Errc::parse_error, "filter"},
      {"[[rule]]\nfilter = \"a\"\nkey = \"k\"\nplaintxt = true\n", Errc::parse_error, "plaintxt"},
      {"[[rule]]\nfilter = \"a/#/b\"\nkey = \"k\"\n", Errc::parse_error, "line 1"},
      {"[[rule]]\nfilter = \"a\"\nkey = \"k\"\n[[rule]]\nfilter = \"a\"\nkey = \"j\"\n",
       Errc::parse_error, "exists already"},
      {"rule = 3\n", Errc::parse_error, "array of tables"},
      {"[[rule]\n", Errc::parse_error, "line 1"},
      {"\xff\xfe = 1\n", Errc::parse_error, "line 1"},
      // compact is suite 1 only: a recipient rule (suite 3 or 4) is never silently full-size
      {"[[rule]]\nfilter = \"a\"\nrecipient = \"r\"\ncompact = true\n", Errc::parse_error, "'compact' needs suite 1"},
      {"[[rule]]\nfilter = \"a\"\nrecipient = \"r\"\nsuite = 3\ncompact = true\n", Errc::parse_error,
       "'compact' needs suite 1"},
      {"[[rule]]\nfilter = \"a/{signer}\"\nrecipient = \"r\"\nsuite = 4\ncompact = true\n", Errc::parse_error,
       "'compact' needs suite 1"},
  };
  for (const Case& c : cases) {
    Result<TopicPolicy> policy = parse_policy(c.text);
    ASSERT_FALSE(policy) << c.text;
    EXPECT_EQ(policy.error(), c.code) << c.text;
    EXPECT_NE(policy.error().message().find(c.says), std::string::npos)
        << c.text << " -> " << policy.error().message();
  }
}

TEST(PolicyFile, RandomMutationsGiveTypedErrorsOnly) {
  const std::string text =
      "version = 1\n[[rule]]\nfilter = \"plant/+/telemetry\"\nkey = \"telemetry\"\n"
      "[[rule]]\nfilter = \"public/#\"\nplaintext = true\n";
  ASSERT_TRUE(parse_policy(text));
  std::mt19937_64 rng(11);
  for (int i = 0; i < 3000; ++i) {
    std::string mutated = text;
    for (int e = 0; e < 1 + static_cast<int>(rng() % 3); ++e) {
      mutated[rng() % mutated.size()] = static_cast<char>(rng());
    }
    Result<TopicPolicy> r = parse_policy(mutated);
    if (!r) {
      // policy_file.h: parse_error for every error, an invalid filter included.
      EXPECT_EQ(r.error(), Errc::parse_error) << r.error().message();
    }
  }
}

TEST(PolicyFile, RetainedPolicyPerRule) {
  Result<TopicPolicy> policy = parse_policy(
      "[[rule]]\nfilter = \"plant/+/cmd/#\"\nkey = \"commands\"\nretained = \"refuse\"\n"
      "[[rule]]\nfilter = \"plant/+/state\"\nkey = \"state\"\nretained = \"accept\"\n"
      "retained_max_age_ms = 86400000\n"
      "[[rule]]\nfilter = \"plant/+/telemetry\"\nkey = \"telemetry\"\n");
  ASSERT_TRUE(policy) << policy.error().message();
  const std::vector<TopicRule>& rules = policy->rules();
  ASSERT_EQ(rules.size(), 3u);
  ASSERT_TRUE(rules[0].retained);
  EXPECT_EQ(rules[0].retained->policy, RetainedPolicy::refuse);
  ASSERT_TRUE(rules[1].retained);
  EXPECT_EQ(rules[1].retained->policy, RetainedPolicy::accept_within_age);
  EXPECT_EQ(rules[1].retained->max_age_ms, 86400000u);
  EXPECT_FALSE(rules[2].retained);
  for (const char* bad : {
           "retained = \"sometimes\"\n",
           "retained = true\n",
           "retained_max_age_ms = 5\n",
           "retained = \"refuse\"\nretained_max_age_ms = 5\n",
           "retained = \"accept\"\nretained_max_age_ms = 0\n",
           "retained = \"accept\"\nretained_max_age_ms = -3\n",
           "retained = \"accept\"\nretained_max_age_ms = 1.5\n",
       }) {
    const std::string text = std::string("[[rule]]\nfilter = \"a/#\"\nkey = \"k\"\n") + bad;
    EXPECT_EQ(parse_policy(text).error(), Errc::parse_error) << bad;
  }
  EXPECT_EQ(parse_policy("[[rule]]\nfilter = \"p/#\"\nplaintext = true\nretained = \"refuse\"\n").error(),
            Errc::parse_error);
}

// Inputs that reach undefined behaviour or a failed assertion inside toml++
// 3.3.0 when handed to it as they are (found by fuzzing toml::parse under
// UBSan with its assertions on; the sanitizer build compiles toml++ in, so
// there these abort the test if they ever reach the bad paths again). One
// example of each kind; all must be a plain parse_error.
TEST(PolicyFile, InputsThatBreakTomlPlusPlusAreParseErrors) {
  const std::string cases[] = {
      // A non-ASCII character where toml++ looks for whitespace hits
      // __builtin_unreachable in is_non_ascii_horizontal_whitespace for
      // U+00A1-U+0499, U+2C8E-U+3087 and U+FC26-U+FEFE (all but the real
      // whitespace in those blocks):
      "\xEF\xBB\x9F",                   // U+FEDF alone
      "\xC2\xBF",                       // U+00BF
      "\xE3\x80\x81 = 1\n",             // U+3001 before a key
      "version = 1 \xC3\xA9\n",         // U+00E9 after a value
      "[[rule]]\nfilter = \"a\"\xD0\x85\n",
      "a = '''\xD0\x85''' \xD0\x85\n",
      // A table header whose first character is neither a key character nor
      // a quote fails toml++'s assertion in parse_key:
      "[[+/b\"",
      "[=]\n",
      "[[\n]]\n",
      "[ #]\n",
      // Values that fail assertions in parse_value and parse_time:
      "a = [1, 2.5, }\n",
      "a = [1, }]\n",
      "x = 1989-05-27T(7:32:01Z\n",
      std::string("x = 1979-05-27T\0""7:00\n", 22),
      "v = 0-05-25-270\n",
  };
  for (const std::string& text : cases) {
    Result<TopicPolicy> policy = parse_policy(text);
    ASSERT_FALSE(policy) << ::testing::PrintToString(text);
    EXPECT_EQ(policy.error(), Errc::parse_error) << ::testing::PrintToString(text);
  }
}

// What the loader accepts: the TOML subset docs/SPEC.md section 9 describes.
TEST(PolicyFile, AcceptsTheDocumentedSubset) {
  Result<TopicPolicy> policy = parse_policy(
      "\xEF\xBB\xBF# a policy \xC3\xA9\xEF\xBB\x9F with comments\r\n"
      "version = +1   # trailing comment \xEF\xBB\x9F\r\n"
      "\t\n"
      "  [[rule]]  # indented header\n"
      "filter=\"plant/\\u00e9/\\\"q\\\"\\t\"\n"
      "key = 'cafe'\n"
      "[[rule]]\n"
      "filter = 'public/\xC3\xA9/#'\n"
      "plaintext = true\n");
  ASSERT_TRUE(policy) << policy.error().message();
  ASSERT_EQ(policy->rules().size(), 2u);
  EXPECT_EQ((*policy->resolve("plant/\xC3\xA9/\"q\"\t"))->key_name, "cafe");
  EXPECT_TRUE((*policy->resolve("public/\xC3\xA9/x"))->plaintext);
}

TEST(PolicyFile, RefusesTomlOutsideTheSubsetWithTheLine) {
  struct Case {
    std::string text;
    const char* says;
  };
  const Case cases[] = {
      {"version = 1.0\n", "line 1"},
      {"version = 0x1\n", "line 1"},
      {"version = 1_0\n", "line 1"},
      {"version = 01\n", "line 1"},
      {"version = 1234567890123456789\n", "line 1"},
      {"\n[rule]\n", "line 2"},
      {"[[rule]]\nfilter = \"\"\"a\"\"\"\n", "line 2"},
      {"[[rule]]\nfilter = '''a'''\n", "line 2"},
      {"rule = [{filter = \"a\", key = \"k\"}]\n", "line 1"},
      {"[[rule]]\n\"filter\" = \"a\"\n", "line 2"},
      {"[[rule]]\nrule.filter = \"a\"\n", "line 2"},
      {"[[ rule ]]\n", "line 1"},
      {"[[rule]] x\n", "line 1"},
      {"a = \"x\" y\n", "line 1"},
      {"a = \"\\q\"\n", "line 1"},
      {"a = \"\\uD800\"\n", "line 1"},
      {"a = \"\\U00110000\"\n", "line 1"},
      {"a = \"\\u12\"\n", "line 1"},
      {"a = \"unterminated\n", "line 1"},
      {"a = 'x\x01'\n", "line 1"},
      {"# bell \x07\n", "line 1"},
      {"a = 1\rb = 2\n", "line 1"},
      {"\n\n\xC3\x28 = 1\n", "line 3"},     // invalid UTF-8
      {"# \xED\xA0\x80\n", "line 1"},      // an encoded surrogate
      {"# \xC0\xAF\n", "line 1"},          // overlong
      {"# \xF4\x90\x80\x80\n", "line 1"},  // above U+10FFFF
      {"a = \"\xE2\x82\"\n", "line 1"},    // truncated sequence
      {"x = 1979-05-27\n", "line 1"},
      {"x = inf\n", "line 1"},
      {std::string("a = 1\n\0", 7), "line 2"},
  };
  for (const Case& c : cases) {
    Result<TopicPolicy> policy = parse_policy(c.text);
    ASSERT_FALSE(policy) << ::testing::PrintToString(c.text);
    EXPECT_EQ(policy.error(), Errc::parse_error) << ::testing::PrintToString(c.text);
    EXPECT_NE(policy.error().message().find(c.says), std::string::npos)
        << ::testing::PrintToString(c.text) << " -> " << policy.error().message();
  }
}

// A fuzzed corpus: structure-aware mutations of valid policies (TOML's own
// punctuation, dates, multi-line quotes and the non-ASCII characters above
// spliced in; bytes deleted, changed and repeated). Every result is a policy
// or a typed error; in the sanitizer build toml++'s assertions and UBSan
// watch every call.
TEST(PolicyFile, FuzzedCorpusGivesTypedErrorsOnly) {
  const std::string seeds[] = {
      "version = 1\n[[rule]]\nfilter = \"plant/+/telemetry\"\nkey = \"telemetry\"\n"
      "[[rule]]\nfilter = 'public/#'\nplaintext = true # c\n",
      "# \xC3\xA9\r\n[[rule]]\r\nfilter = \"a/\\u00e9\"\r\nkey = \"k\"\r\n",
  };
  const std::string tokens[] = {"[", "]", "[[", "]]", "{", "}", "=", ",", ".", "\"", "'", "\"\"\"",
                                "'''", "#", "\n", "\r\n", " ", "\t", "\\", "\\u", "+", "-", "0",
                                "1979-05-27T07:32:00Z", "07:32", "T", ":", "inf", "nan", "0x1F",
                                "1e5", "_", "\xEF\xBB\x9F", "\xEF\xBB\xBF", "\xC2\xBF", "\xE3\x80\x81",
                                "\xE3\x80\x80", "\xC2\xA0", "\xE2\x80\xA8", "\xED\xA0\x80", std::string(1, '\0'),
                                "\x7f", "rule", "filter", "key", "plaintext", "true", "version"};
  const size_t token_count = sizeof tokens / sizeof tokens[0];
  std::mt19937_64 rng(20261201);
  size_t accepted = 0;
  for (int i = 0; i < 40000; ++i) {
    std::string text = seeds[rng() % 2];
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const size_t at = rng() % (text.size() + 1);
      switch (rng() % 5) {
        case 0:
          text.insert(at, tokens[rng() % token_count]);
          break;
        case 1:
          if (at < text.size()) text.erase(at, 1 + rng() % 8);
          break;
        case 2:
          if (at < text.size()) text[at] = static_cast<char>(rng());
          break;
        case 3:
          if (at < text.size()) text.insert(at, text.substr(at, 1 + rng() % 16));
          break;
        default:
          text.resize(at);
          break;
      }
    }
    Result<TopicPolicy> r = parse_policy(text);
    if (r) {
      ++accepted;
      continue;
    }
    EXPECT_EQ(r.error(), Errc::parse_error) << r.error().message();  // every error, as promised
  }
  EXPECT_GT(accepted, 0u);  // the mutations also leave valid policies
}

TEST(PolicyFile, LoadsFromDisk) {
  testing::TempDir dir;
  testing::write_file(dir.file("p.toml"), "[[rule]]\nfilter = \"#\"\nkey = \"all\"\n", 0644);
  Result<TopicPolicy> policy = load_policy(dir.file("p.toml"));
  ASSERT_TRUE(policy);
  EXPECT_EQ(policy->rules().size(), 1u);
  EXPECT_EQ(load_policy(dir.file("none.toml")).error(), Errc::io_error);
  EXPECT_EQ(load_policy(dir.path()).error(), Errc::io_error);  // opens, but cannot be read
  testing::write_file(dir.file("big.toml"), std::string(kMaxPolicyFileSize + 1, '#'), 0644);
  EXPECT_EQ(load_policy(dir.file("big.toml")).error(), Errc::parse_error);
}

// The policy decides where sealing is required and who may sign: whoever
// can write it can turn a sealed topic into a plaintext one (fail open) or
// authorise a signer. So a policy file is refused as a keyring is when group
// or others may write it or another user than this one or root owns it
// (it may be readable by all: it holds no secret); and only a regular file
// is read, so a FIFO at the path cannot hang a broker's or a service's start.
// Before, load_policy read any of them with std::ifstream.
TEST(PolicyFile, LoadRefusesAFileOthersMayWriteAndAnythingButARegularFile) {
  testing::TempDir dir;
  const std::string path = dir.file("p.toml");
  testing::write_file(path, "[[rule]]\nfilter = \"#\"\nplaintext = true\n", 0644);
  ASSERT_TRUE(load_policy(path));
  for (const mode_t mode : {0664, 0646, 0666, 0620, 0602}) {
    ASSERT_EQ(chmod(path.c_str(), mode), 0);
    Result<TopicPolicy> loose = load_policy(path);
    EXPECT_EQ(loose ? static_cast<Errc>(0) : loose.error().code(), Errc::insecure_permissions) << std::oct << mode;
  }
  ASSERT_EQ(chmod(path.c_str(), 0600), 0);
  EXPECT_TRUE(load_policy(path));
  if (geteuid() == 0) {
    constexpr uid_t kNobodyUid = 65534;  // Debian's nobody
    ASSERT_EQ(chown(path.c_str(), kNobodyUid, kNobodyUid), 0);
    Result<TopicPolicy> foreign = load_policy(path);
    EXPECT_EQ(foreign ? static_cast<Errc>(0) : foreign.error().code(), Errc::insecure_permissions);
  }
  // A FIFO with no writer: refused at once (io_error), in a child process
  // that an alarm ends if the open blocks.
  const std::string fifo = dir.file("fifo.toml");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    alarm(5);
    Result<TopicPolicy> r = load_policy(fifo);
    _exit(!r && r.error() == Errc::io_error ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status)) << "load_policy blocked on a FIFO (signal " << WTERMSIG(status) << ")";
  EXPECT_EQ(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 0);
}

}  // namespace
}  // namespace mqseal

namespace mqseal {
namespace {

TEST(PolicyFile, SignedRules) {
  Result<TopicPolicy> policy = parse_policy(R"(
[[rule]]
filter = "plant/{signer}/telemetry"
key = "telemetry"
suite = 2

[[rule]]
filter = "plant/+/cmd/#"
key = "commands"
suite = 2
signers = "backend,  ops-console"
retained = "refuse"

[[rule]]
filter = "legacy/#"
key = "telemetry"
suite = 1
)");
  ASSERT_TRUE(policy) << policy.error().message();
  const TopicRule* own = *policy->resolve("plant/d7/telemetry");
  EXPECT_EQ(own->suite, Suite::signed_sender);
  EXPECT_TRUE(own->signers.empty());
  EXPECT_EQ(own->signer_level, 1);
  const TopicRule* cmd = *policy->resolve("plant/d7/cmd/valve");
  EXPECT_EQ(cmd->suite, Suite::signed_sender);
  EXPECT_EQ(cmd->signers, (std::vector<std::string>{"backend", "ops-console"}));
  EXPECT_TRUE(cmd->retained);
  EXPECT_EQ((*policy->resolve("legacy/x"))->suite, Suite::symmetric);
}

TEST(PolicyFile, RefusesBadSignedRules) {
  const char* bad[] = {
      "[[rule]]\nfilter = \"a\"\nkey = \"k\"\nsuite = 3\n",                       // not this build's
      "[[rule]]\nfilter = \"a\"\nkey = \"k\"\nsuite = \"2\"\n",                   // a string
      "[[rule]]\nfilter = \"a\"\nkey = \"k\"\nsuite = 2\n",                       // nobody may sign
      "[[rule]]\nfilter = \"a\"\nkey = \"k\"\nsigners = \"b\"\n",                 // signers on suite 1
      "[[rule]]\nfilter = \"a\"\nkey = \"k\"\nsuite = 1\nsigners = \"b\"\n",
      "[[rule]]\nfilter = \"a\"\nkey = \"k\"\nsuite = 2\nsigners = \"\"\n",       // an empty name
      "[[rule]]\nfilter = \"a\"\nkey = \"k\"\nsuite = 2\nsigners = \"b,\"\n",
      "[[rule]]\nfilter = \"a\"\nkey = \"k\"\nsuite = 2\nsigners = \"b,,c\"\n",
      "[[rule]]\nfilter = \"a\"\nkey = \"k\"\nsuite = 2\nsigners = \"b c\"\n",    // not a name
      "[[rule]]\nfilter = \"a\"\nkey = \"k\"\nsuite = 2\nsigners = \"b,b\"\n",    // twice
      "[[rule]]\nfilter = \"a\"\nkey = \"k\"\nsuite = 2\nsigners = 7\n",
      "[[rule]]\nfilter = \"a/{signer}\"\nkey = \"k\"\n",                          // pattern on suite 1
      "[[rule]]\nfilter = \"{signer}/{signer}\"\nkey = \"k\"\nsuite = 2\n",
      "[[rule]]\nfilter = \"a\"\nplaintext = true\nsuite = 2\n",
      "[[rule]]\nfilter = \"a\"\nplaintext = true\nsuite = 1\n",
      // compact (issue 12): only true, only suite 1, never plaintext
      "[[rule]]\nfilter = \"a\"\nkey = \"k\"\ncompact = false\n",
      "[[rule]]\nfilter = \"a\"\nkey = \"k\"\ncompact = 1\n",
      "[[rule]]\nfilter = \"a\"\nkey = \"k\"\nsuite = 2\nsigners = \"b\"\ncompact = true\n",
      "[[rule]]\nfilter = \"a\"\nplaintext = true\ncompact = true\n",
      "[[rule]]\nfilter = \"a\"\nrecipient = \"r\"\ncompact = true\n",
      "[[rule]]\nfilter = \"a\"\nrecipient = \"r\"\ncompact = false\n",
  };
  for (const char* text : bad) {
    Result<TopicPolicy> r = parse_policy(text);
    ASSERT_FALSE(r) << text;
    EXPECT_EQ(r.error(), Errc::parse_error) << text;
  }
}

}  // namespace
}  // namespace mqseal

namespace mqseal {
namespace {

// Issue 12: `compact = true` selects envelope v3 for a suite 1 rule.
TEST(PolicyFile, CompactRules) {
  Result<TopicPolicy> policy = parse_policy(R"(
[[rule]]
filter = "field/+/reading"
key = "telemetry"
compact = true
retained = "refuse"

[[rule]]
filter = "plant/#"
key = "telemetry"
)");
  ASSERT_TRUE(policy) << policy.error().message();
  const TopicRule* field = *policy->resolve("field/3/reading");
  EXPECT_TRUE(field->compact);
  EXPECT_EQ(field->suite, Suite::symmetric);
  EXPECT_TRUE(field->retained);
  EXPECT_FALSE((*policy->resolve("plant/3"))->compact);
}

}  // namespace
}  // namespace mqseal
