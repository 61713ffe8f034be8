#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/regex_splitter.h"

#include <pcre2.h>

#include <string>

#include "tokenizer/utf8_chars.h"

namespace llmp::engine::tokenizer {

struct RegexSplitter::Compiled {
  pcre2_code* code = nullptr;
  bool jit = false;
  ~Compiled() { pcre2_code_free(code); }
};

namespace {

// Match data and a JIT stack per thread: a Tokenizer is shared by threads, and these are the
// only mutable things a match needs. One ovector pair is enough: only the whole match is used.
struct MatchScratch {
  pcre2_match_data* data = pcre2_match_data_create(1, nullptr);
  pcre2_jit_stack* stack = pcre2_jit_stack_create(32 * 1024, 4 * 1024 * 1024, nullptr);
  pcre2_match_context* context = [this] {
    pcre2_match_context* c = pcre2_match_context_create(nullptr);
    pcre2_jit_stack_assign(c, nullptr, stack);
    return c;
  }();
  ~MatchScratch() {
    pcre2_match_context_free(context);
    pcre2_jit_stack_free(stack);
    pcre2_match_data_free(data);
  }
};

MatchScratch& scratch() {
  thread_local MatchScratch s;
  return s;
}

}  // namespace

Result<RegexSplitter> RegexSplitter::compile(std::span<const std::string> patterns) {
  RegexSplitter splitter;
  for (const std::string& pattern : patterns) {
    int code = 0;
    PCRE2_SIZE offset = 0;
    pcre2_code* re = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &code, &offset, nullptr);
    if (re == nullptr) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(code, message, sizeof(message));
      return error(StatusCode::invalid_argument, "pre-tokenizer regex '" + pattern + "': " +
                                                     reinterpret_cast<const char*>(message) + " at offset " +
                                                     std::to_string(offset));
    }
    auto compiled = std::make_shared<Compiled>();
    compiled->code = re;
    // Without JIT (a platform PCRE2 lacks it for) the interpreter gives the same results, slower.
    compiled->jit = pcre2_jit_compile(re, PCRE2_JIT_COMPLETE) == 0;
    splitter.regexes_.push_back(std::move(compiled));
  }
  return splitter;
}

void RegexSplitter::split_one(const Compiled& regex, std::string_view text, std::vector<std::string_view>& out) const {
  MatchScratch& s = scratch();
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(s.data);
  size_t last = 0;  // end of the last piece written
  size_t pos = 0;   // where the next search starts
  while (pos < text.size()) {
    int rc = regex.jit ? pcre2_jit_match(regex.code, subject, text.size(), pos, 0, s.data, s.context)
                       : pcre2_match(regex.code, subject, text.size(), pos, 0, s.data, s.context);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT) {
      rc = pcre2_match(regex.code, subject, text.size(), pos, PCRE2_NO_JIT, s.data, s.context);
    }
    // Any other error (a match limit on pathological input) leaves the rest as one piece: the
    // result is still a valid tokenization of the same bytes.
    if (rc < 0) break;
    const size_t begin = ovector[0], end = ovector[1];
    if (begin > last) out.push_back(text.substr(last, begin - last));
    if (end == begin) {
      // An empty match makes no piece but still splits there (as in Hugging Face's Split:
      // SuperBPE's lookahead-only regex cuts numbers into groups this way); search again one
      // character on.
      last = begin;
      pos = begin + char_length_at(text, begin);
      continue;
    }
    out.push_back(text.substr(begin, end - begin));
    last = pos = end;
  }
  if (last < text.size()) out.push_back(text.substr(last));
}

void RegexSplitter::split(std::string_view text, std::vector<std::string_view>& out) const {
  if (text.empty()) return;
  if (regexes_.empty()) {
    out.push_back(text);
    return;
  }
  const size_t first_out = out.size();
  split_one(*regexes_[0], text, out);
  if (regexes_.size() == 1) return;
  // Later regexes refine the pieces of the earlier ones.
  std::vector<std::string_view> current(out.begin() + static_cast<std::ptrdiff_t>(first_out), out.end());
  out.resize(first_out);
  std::vector<std::string_view> next;
  for (size_t r = 1; r < regexes_.size(); ++r) {
    std::vector<std::string_view>& target = r + 1 == regexes_.size() ? out : next;
    for (const std::string_view piece : current) split_one(*regexes_[r], piece, target);
    if (&target == &next) {
      current.swap(next);
      next.clear();
    }
  }
}

}  // namespace llmp::engine::tokenizer
