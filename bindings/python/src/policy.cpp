// The topic policy: TopicRule and TopicPolicy (mqseal/policy.h, mqseal/policy_file.h).
#include <pybind11/stl.h>

#include <mqseal/policy_file.h>

#include "binding.h"

namespace mqseal::python {

namespace {

// A rule's own treatment of retained messages, from add_rule's keywords; none: the receiver's default.
std::optional<RetainedRule> retained_rule(const std::optional<Text>& retained,
                                          std::optional<Unsigned<uint64_t>> retained_max_age_ms) {
  if (!retained) {
    if (retained_max_age_ms) raise(Error(Errc::invalid_argument, "retained_max_age_ms needs retained='accept'"));
    return std::nullopt;
  }
  RetainedRule rule;
  rule.policy = retained_policy(*retained);
  if (retained_max_age_ms) {
    if (rule.policy == RetainedPolicy::refuse || retained_max_age_ms->value == 0) {
      raise(Error(Errc::invalid_argument, "retained_max_age_ms is a positive age, with retained='accept'"));
    }
    rule.max_age_ms = *retained_max_age_ms;
  }
  return rule;
}

bool sealed_to_recipient(const TopicRule& r) {
  return r.suite == Suite::sealed_to_recipient || r.suite == Suite::signed_sealed;
}

std::vector<std::string> names(const std::vector<Text>& texts) { return {texts.begin(), texts.end()}; }

std::string rule_repr(const TopicRule& r) {
  std::string retained;
  if (r.retained) {
    retained = r.retained->policy == RetainedPolicy::refuse
                   ? ", retained='refuse'"
                   : ", retained='accept', retained_max_age_ms=" + std::to_string(r.retained->max_age_ms);
  }
  std::string protection;
  if (r.plaintext) {
    protection = "plaintext=True";
  } else if (sealed_to_recipient(r)) {
    protection = "recipient='" + r.key_name + "'";
  } else {
    protection = "key_name='" + r.key_name + "'";
  }
  const std::string suite = r.suite == Suite::symmetric ? "" : ", suite=" + std::to_string(static_cast<int>(r.suite));
  return "TopicRule(filter='" + r.filter + "', " + protection + suite + (r.compact ? ", compact=True" : "") +
         retained + ")";
}

}  // namespace

void bind_policy(py::module_& m) {
  Class<TopicRule>(m, "TopicRule", "One policy rule: an MQTT filter and a key name, or plaintext.")
      .def_readonly("filter", &TopicRule::filter)
      .def_readonly("key_name", &TopicRule::key_name)
      .def_readonly("plaintext", &TopicRule::plaintext)
      .def_property_readonly("suite", [](const TopicRule& r) { return static_cast<int>(r.suite); })
      .def_readonly("signers", &TopicRule::signers)
      .def_property_readonly("retained",
                             [](const TopicRule& r) -> py::object {
                               return r.retained ? retained_policy(r.retained->policy) : py::none();
                             })
      .def_property_readonly("retained_max_age_ms",
                             [](const TopicRule& r) -> std::optional<uint64_t> {
                               if (!r.retained || r.retained->policy == RetainedPolicy::refuse) return std::nullopt;
                               return r.retained->max_age_ms;
                             })
      .def_property_readonly("recipient",
                             [](const TopicRule& r) -> std::optional<std::string> {
                               if (!sealed_to_recipient(r)) return std::nullopt;
                               return r.key_name;
                             })
      .def_readonly("compact", &TopicRule::compact)
      .def("__repr__", &rule_repr);

  Class<TopicPolicy>(m, "TopicPolicy", "Which key protects which topic; the most specific filter wins; fail closed.")
      .def(py::init<>())
      .def("add_rule",
           [](TopicPolicy& p, const Text& filter, const Text& key, std::optional<Text> retained,
              std::optional<Unsigned<uint64_t>> retained_max_age_ms) {
             const std::optional<RetainedRule> rule = retained_rule(retained, retained_max_age_ms);
             check(rule ? p.add_rule(filter, key, *rule) : p.add_rule(filter, key));
           },
           py::arg("filter"), py::arg("key_name"), py::kw_only(), py::arg("retained") = py::none(),
           py::arg("retained_max_age_ms") = py::none())
      .def("add_signed_rule",
           [](TopicPolicy& p, const Text& filter, const Text& key, const std::vector<Text>& signers,
              std::optional<Text> retained, std::optional<Unsigned<uint64_t>> retained_max_age_ms) {
             check(p.add_signed_rule(filter, key, names(signers), retained_rule(retained, retained_max_age_ms)));
           },
           py::arg("filter"), py::arg("key_name"), py::arg("signers"), py::kw_only(),
           py::arg("retained") = py::none(), py::arg("retained_max_age_ms") = py::none())
      .def("add_recipient_rule",
           [](TopicPolicy& p, const Text& filter, const Text& recipient,
              std::optional<Text> retained, std::optional<Unsigned<uint64_t>> retained_max_age_ms) {
             check(p.add_recipient_rule(filter, recipient, retained_rule(retained, retained_max_age_ms)));
           },
           py::arg("filter"), py::arg("recipient"), py::kw_only(), py::arg("retained") = py::none(),
           py::arg("retained_max_age_ms") = py::none())
      .def("add_signed_recipient_rule",
           [](TopicPolicy& p, const Text& filter, const Text& recipient,
              const std::vector<Text>& signers, std::optional<Text> retained,
              std::optional<Unsigned<uint64_t>> retained_max_age_ms) {
             check(p.add_signed_recipient_rule(filter, recipient, names(signers),
                                               retained_rule(retained, retained_max_age_ms)));
           },
           py::arg("filter"), py::arg("recipient"), py::arg("signers"), py::kw_only(),
           py::arg("retained") = py::none(), py::arg("retained_max_age_ms") = py::none())
      .def("add_aes256gcm_rule",
           [](TopicPolicy& p, const Text& filter, const Text& key, std::optional<Text> retained,
              std::optional<Unsigned<uint64_t>> retained_max_age_ms) {
             check(p.add_aes256gcm_rule(filter, key, retained_rule(retained, retained_max_age_ms)));
           },
           py::arg("filter"), py::arg("key_name"), py::kw_only(), py::arg("retained") = py::none(),
           py::arg("retained_max_age_ms") = py::none())
      .def("add_compact_rule",
           [](TopicPolicy& p, const Text& filter, const Text& key, std::optional<Text> retained,
              std::optional<Unsigned<uint64_t>> retained_max_age_ms) {
             check(p.add_compact_rule(filter, key, retained_rule(retained, retained_max_age_ms)));
           },
           py::arg("filter"), py::arg("key_name"), py::kw_only(), py::arg("retained") = py::none(),
           py::arg("retained_max_age_ms") = py::none())
      .def("add_plaintext_rule", [](TopicPolicy& p, const Text& filter) { check(p.add_plaintext_rule(filter)); },
           py::arg("filter"))
      .def("resolve", [](const TopicPolicy& p, const Text& topic) { return *unwrap(p.resolve(topic)); },
           py::arg("topic"))
      .def_property_readonly("rules", &TopicPolicy::rules)
      .def_static("load", [](const FilePath& path) { return unwrap(load_policy(path)); }, py::arg("path"))
      .def_static("parse", [](const Text& text) { return unwrap(parse_policy(text)); }, py::arg("text"));
}

}  // namespace mqseal::python
