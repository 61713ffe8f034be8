// Every fixture template × every fixture conversation × add_generation_prompt false/true,
// rendered by our interpreter and by Python's jinja2 configured as transformers configures it
// (render_reference.py, run here with Debian's /usr/bin/python3). Outputs must agree byte for
// byte; where jinja2 raises, we must fail too, with the template's own message when the template
// raised it.

#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "llmp/core/json.h"
#include "llmp/engine/chat_template.h"
#include "llmp/engine/jinja.h"
#include "support/temp_dir.h"

namespace fs = std::filesystem;
using namespace llmp::engine;

namespace {

constexpr const char* kPython = "/usr/bin/python3";
constexpr int64_t kNow = 1721952000;  // 2024-07-26 00:00 UTC, for strftime_now

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// Shows bytes around `offset` with control characters escaped.
std::string excerpt(const std::string& s, size_t offset) {
  const size_t begin = offset > 40 ? offset - 40 : 0;
  const size_t end = std::min(s.size(), offset + 40);
  std::string out;
  for (size_t i = begin; i < end; ++i) {
    if (i == offset) out += "\u2038";  // a caret marks the first differing byte
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

std::string describe_difference(const std::string& expected, const std::string& actual) {
  size_t i = 0;
  while (i < expected.size() && i < actual.size() && expected[i] == actual[i]) ++i;
  std::ostringstream out;
  out << "first difference at byte " << i << " (expected " << expected.size() << " bytes, got " << actual.size()
      << ")\n  jinja2: " << excerpt(expected, i) << "\n  ours:   " << excerpt(actual, i);
  return out.str();
}

struct TemplateFixture {
  std::string name;
  std::string source;
  std::string bos_token;
  std::string eos_token;
};

struct ConversationFixture {
  std::string name;
  std::string json;
  jinja::Value value;
};

std::vector<TemplateFixture> load_templates() {
  const fs::path dir = fs::path(LLMP_SOURCE_DIR) / "test/fixtures/templates";
  auto tokens = jinja::value_from_json(read_file(dir / "special_tokens.json"));
  REQUIRE(tokens);
  std::vector<TemplateFixture> out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".jinja") continue;
    out.push_back({entry.path().stem().string(), read_file(entry.path()), "<s>", "</s>"});
  }
  for (const char* name : {"chatml", "llama3"}) {
    out.push_back({std::string("builtin-") + name, std::string(builtin_template_source(name)), "", ""});
  }
  for (TemplateFixture& t : out) {
    if (const jinja::Value* special = tokens->as_object().find(t.name)) {
      t.bos_token = special->as_object().find("bos_token")->as_string();
      t.eos_token = special->as_object().find("eos_token")->as_string();
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

std::vector<ConversationFixture> load_conversations() {
  const fs::path dir = fs::path(LLMP_SOURCE_DIR) / "test/fixtures/conversations";
  std::vector<ConversationFixture> out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".json") continue;
    std::string json = read_file(entry.path());
    auto value = jinja::value_from_json(json);
    INFO(entry.path().string());
    REQUIRE(value);
    out.push_back({entry.path().stem().string(), std::move(json), std::move(*value)});
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

}  // namespace

TEST_CASE("templates render byte for byte like transformers' jinja2", "[jinja][reference]") {
  if (::access(kPython, X_OK) != 0) {
    FAIL("missing " << kPython
                    << ": the reference renderer needs Debian's python3 with python3-jinja2 "
                       "(scripts/install-deps.sh --test)");
  }
  const std::vector<TemplateFixture> templates = load_templates();
  const std::vector<ConversationFixture> conversations = load_conversations();
  // The families the platform serves must stay covered.
  for (const char* required :
       {"meta-llama-Llama-3.1-8B-Instruct", "meta-llama-Llama-3.2-3B-Instruct", "meta-llama-Llama-3.3-70B-Instruct",
        "Qwen-Qwen2.5-7B-Instruct", "mistralai-Mistral-7B-Instruct-v0.3", "mistralai-Mistral-Nemo-Instruct-2407",
        "google-gemma-2-2b-it", "google-gemma-3-it", "microsoft-Phi-3-mini-4k-instruct",
        "microsoft-Phi-3.5-mini-instruct", "deepseek-ai-DeepSeek-R1-Distill-Llama-8B",
        "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B", "deepseek-ai-DeepSeek-V2-Chat", "deepseek-ai-DeepSeek-R1"}) {
    const bool present =
        std::any_of(templates.begin(), templates.end(), [&](const TemplateFixture& t) { return t.name == required; });
    INFO("missing template fixture " << required);
    CHECK(present);
  }
  REQUIRE(conversations.size() >= 20);

  struct Case {
    std::string id;
    const TemplateFixture* tmpl;
    const ConversationFixture* conversation;
    bool add_generation_prompt;
  };
  std::vector<Case> cases;
  std::string job;
  llmp::json::Writer w(job);
  w.begin_object().field("now", kNow).key("templates").begin_object();
  for (const TemplateFixture& t : templates) w.field(t.name, t.source);
  w.end_object().key("cases").begin_array();
  for (const TemplateFixture& t : templates) {
    for (const ConversationFixture& c : conversations) {
      for (bool agp : {false, true}) {
        Case k{t.name + " × " + c.name + (agp ? " +gen" : ""), &t, &c, agp};
        w.begin_object()
            .field("id", k.id)
            .field("template", t.name)
            .key("conversation")
            .raw(c.json)
            .field("add_generation_prompt", agp)
            .field("bos_token", t.bos_token)
            .field("eos_token", t.eos_token)
            .end_object();
        cases.push_back(std::move(k));
      }
    }
  }
  w.end_array().end_object();

  llmp::test::TempDir dir;
  const std::string job_path = dir / "job.json";
  const std::string out_path = dir / "out.json";
  const std::string err_path = dir / "stderr.txt";
  std::ofstream(job_path, std::ios::binary) << job;
  const std::string script = std::string(LLMP_SOURCE_DIR) + "/test/engine/jinja/render_reference.py";
  const std::string command =
      std::string(kPython) + " '" + script + "' '" + job_path + "' '" + out_path + "' 2> '" + err_path + "'";
  const int status = std::system(command.c_str());
  const int exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (exit_code != 0) {
    FAIL("the jinja2 reference renderer failed (exit "
         << exit_code << "):\n"
         << read_file(err_path) << "CI installs python3-jinja2 with scripts/install-deps.sh --test");
  }
  auto results = jinja::value_from_json(read_file(out_path));
  REQUIRE(results);
  REQUIRE(results->as_array().size() == cases.size());

  std::map<std::string, jinja::Template> parsed;
  std::map<std::string, std::string> parse_errors;
  for (const TemplateFixture& t : templates) {
    auto tmpl = jinja::Template::parse(t.source);
    if (tmpl) {
      parsed.emplace(t.name, std::move(*tmpl));
    } else {
      parse_errors.emplace(t.name, tmpl.error().message());
    }
  }

  size_t same_output = 0;
  size_t same_failure = 0;
  size_t mismatches = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& k = cases[i];
    const jinja::Object& expected = results->as_array()[i].as_object();
    REQUIRE(expected.find("id")->as_string() == k.id);
    const bool expected_ok = expected.find("ok")->as_bool();

    llmp::Result<std::string> ours = llmp::error(llmp::StatusCode::internal, "");
    if (auto it = parsed.find(k.tmpl->name); it != parsed.end()) {
      ChatTemplateInputs inputs;
      const jinja::Object& conv = k.conversation->value.as_object();
      inputs.messages = *conv.find("messages");
      if (const jinja::Value* tools = conv.find("tools")) inputs.tools = *tools;
      if (const jinja::Value* extra = conv.find("extra")) inputs.extra = extra->as_object();
      inputs.add_generation_prompt = k.add_generation_prompt;
      inputs.bos_token = k.tmpl->bos_token;
      inputs.eos_token = k.tmpl->eos_token;
      inputs.options.now = std::chrono::system_clock::from_time_t(kNow);
      ours = render_chat(it->second, inputs);
    } else {
      ours = llmp::error(llmp::StatusCode::invalid_argument, parse_errors[k.tmpl->name]);
    }

    std::string problem;
    if (expected_ok && ours) {
      const std::string& want = expected.find("output")->as_string();
      if (want == *ours) {
        ++same_output;
        continue;
      }
      problem = describe_difference(want, *ours);
    } else if (expected_ok) {
      problem = "jinja2 rendered it, we failed: " + ours.error().message();
    } else if (ours) {
      problem = "jinja2 failed (" + expected.find("error_type")->as_string() + ": " +
                expected.find("message")->as_string() + "), we rendered " + std::to_string(ours->size()) + " bytes";
    } else if (expected.find("raised")->as_bool() && ours.error().message() != expected.find("message")->as_string()) {
      problem = "raise_exception message differs: jinja2 '" + expected.find("message")->as_string() + "', ours '" +
                ours.error().message() + "'";
    } else if ((expected.find("error_type")->as_string() == "UndefinedError") !=
               (ours.error().message().find("undefined") != std::string::npos)) {
      // Both failed, but one for an undefined value and the other for something else.
      problem = "failed for a different reason: jinja2 " + expected.find("error_type")->as_string() + ": " +
                expected.find("message")->as_string() + "; ours: " + ours.error().message();
    } else {
      ++same_failure;
      if (std::getenv("LLMP_JINJA_SHOW_FAILURES") != nullptr) {
        std::printf("both fail: %s\n  jinja2: %s: %s\n  ours:   %s\n", k.id.c_str(),
                    expected.find("error_type")->as_string().c_str(), expected.find("message")->as_string().c_str(),
                    ours.error().message().c_str());
      }
      continue;
    }
    ++mismatches;
    if (mismatches <= 25) {
      UNSCOPED_INFO(k.id << ": " << problem);
      CHECK(false);
    }
  }
  std::printf(
      "jinja reference comparison: %zu templates x %zu conversations x 2 = %zu cases: "
      "%zu identical outputs, %zu failing in both, %zu mismatches\n",
      templates.size(), conversations.size(), cases.size(), same_output, same_failure, mismatches);
  CHECK(mismatches == 0);
  // Most cases must render: a matrix that only agrees on failures proves little.
  CHECK(same_output * 2 > cases.size());
}
