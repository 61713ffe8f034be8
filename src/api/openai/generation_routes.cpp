// POST /v1/chat/completions and POST /v1/completions: OpenAI's shapes over the engine, with
// streaming (SSE), n > 1, logprobs, stop strings and tool calls.

#include <fmt/format.h>
#include <simdjson.h>

#include <boost/asio/this_coro.hpp>
#include <algorithm>
#include <chrono>
#include <span>

#include "call_log.h"
#include "event_channel.h"
#include "json_request.h"
#include "llmp/api/idempotency.h"
#include "llmp/api/openai_routes.h"
#include "llmp/api/status_response.h"
#include "llmp/core/async.h"
#include "llmp/core/ids.h"
#include "llmp/core/json.h"
#include "llmp/engine/chat_template.h"
#include "llmp/net/errors.h"
#include "openai/admission.h"
#include "openai/inference_route.h"
#include "openai/request_fields.h"
#include "openai/response_format.h"
#include "openai/routed_generation.h"
#include "openai/tool_calls.h"

namespace llmp::api {
namespace {

namespace asio = boost::asio;
using engine::TokenEvent;
using engine::TokenId;
using net::Awaitable;
using net::Request;
using net::Response;

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// A request's choices as they arrive: text, tokens, logprobs, finish.
struct ChoiceState {
  std::string text;
  std::vector<TokenId> tokens;
  std::vector<engine::TokenLogprob> logprobs;
  std::vector<engine::TokenLogprob> prompt_logprobs;  // completions with echo + logprobs
  std::optional<engine::FinishReason> finish;
  std::string stop_reason;            // the engine's: the stop string, "eos" or "stop_token"
  engine::TokenId stop_token = -1;    // with "stop_token": which
  engine::Usage usage;
  ToolCallStream tools;
  std::vector<ToolCall> calls;
  bool role_sent = false;
  Status error;
};

struct Job {
  std::shared_ptr<ServedModel> model;
  std::string id;  // "chatcmpl-..." / "cmpl-..."
  int64_t created = 0;
  std::vector<std::vector<TokenId>> prompts;
  engine::SamplingParams sampling;
  bool stream = false;
  bool include_usage = false;
  bool chat = true;
  bool parse_tools = false;  // the request offered tools
  ForcedTools forced_tools;  // tool_choice required or named: the output is the calls
  bool echo = false;         // completions: prompt text before the output
  int64_t truncate_prompt_tokens = 0;  // vLLM's: > 0 keeps a prompt's last this many tokens
  std::vector<std::string> prompt_texts;
  std::string tenant;
  std::string limit_model;  // the model limits and prices apply to: the name the client sent
  int priority = 0;
  std::shared_ptr<LimitHold> limit;  // settles when the last copy of the job goes; null: no limits
  std::shared_ptr<CallLog> call;     // recorded when the last copy of the job goes; null: not recorded
};

// `calls`: the choice's tool calls. Calls of a function named by tool_choice finish with
// "stop", as OpenAI's do; calls the model chose, with "tool_calls"; but a call whose arguments
// were cut short (max_tokens inside it) leaves the engine's reason, "length".
std::string_view finish_name(const Job& job, engine::FinishReason r, std::span<const ToolCall> calls) {
  const bool whole = !calls.empty() && std::ranges::all_of(calls, [](const ToolCall& c) {
    simdjson::dom::parser parser;
    return parser.parse(simdjson::padded_string(c.arguments)).error() == simdjson::SUCCESS;
  });
  if (whole) return job.forced_tools.kind == ForcedTools::Kind::named ? "stop" : "tool_calls";
  return r == engine::FinishReason::length ? "length" : "stop";
}

// Submits every prompt; events arrive on the returned channel with choice = prompt · n + choice.
ApiResult<std::shared_ptr<EventChannel>> submit(Job& job, const asio::any_io_executor& ex) {
  auto channel = std::make_shared<EventChannel>(ex);
  for (size_t p = 0; p < job.prompts.size(); ++p) {
    engine::GenerationRequest r;
    r.id = job.prompts.size() == 1 ? job.id : fmt::format("{}-{}", job.id, p);
    r.prompt = job.prompts[p];
    r.sampling = job.sampling;
    if (r.sampling.max_tokens < 1) {
      // Not given: up to the context, as vLLM does.
      r.sampling.max_tokens =
          std::max<int64_t>(1, job.model->engine->limits().max_context - static_cast<int64_t>(r.prompt.size()));
    }
    r.priority = job.priority;
    r.tenant = job.tenant;
    const int base = static_cast<int>(p) * job.sampling.n;
    r.on_event = [channel, base](TokenEvent&& e) {
      e.choice += base;
      channel->push(std::move(e));
    };
    if (auto done = job.model->engine->submit(std::move(r)); !done) {
      for (size_t q = 0; q < p; ++q)
        job.model->engine->cancel(job.prompts.size() == 1 ? job.id : fmt::format("{}-{}", job.id, q));
      if (done.error().code() == StatusCode::unavailable) {
        // At capacity: 503 with Retry-After, as llama-server and vLLM behind a proxy answer.
        return api_error(StatusCode::unavailable, done.error().message(), "", "model_at_capacity");
      }
      const bool context = done.error().code() == StatusCode::out_of_range;
      return api_error(StatusCode::invalid_argument, done.error().message(), context ? "messages" : "",
                       context ? "context_length_exceeded" : "");
    }
  }
  return channel;
}

void cancel_all(const Job& job) {
  for (size_t p = 0; p < job.prompts.size(); ++p) {
    job.model->engine->cancel(job.prompts.size() == 1 ? job.id : fmt::format("{}-{}", job.id, p));
  }
}

// A self-contained canceller: it may run after the handler that made it has returned.
std::function<void()> canceller(const Job& job) {
  return [model = job.model, id = job.id, n = job.prompts.size()] {
    for (size_t p = 0; p < n; ++p) model->engine->cancel(n == 1 ? id : fmt::format("{}-{}", id, p));
  };
}

// Usage over all choices: the prompt counted once per prompt, as OpenAI does for n > 1; with a
// prediction, OpenAI's completion_tokens_details of it.
void write_total_usage(json::Writer& w, const Job& job, const std::vector<ChoiceState>& choices) {
  int64_t prompt = 0, completion = 0, cached = 0, accepted = 0, rejected = 0;
  for (size_t p = 0; p < job.prompts.size(); ++p) {
    prompt += static_cast<int64_t>(job.prompts[p].size());
    cached += choices[p * static_cast<size_t>(job.sampling.n)].usage.cached_tokens;
  }
  for (const auto& c : choices) {
    completion += c.usage.completion_tokens;
    accepted += c.usage.accepted_prediction_tokens;
    rejected += c.usage.rejected_prediction_tokens;
  }
  w.key("usage").begin_object();
  w.field("prompt_tokens", prompt).field("completion_tokens", completion).field("total_tokens", prompt + completion);
  w.key("prompt_tokens_details").begin_object().field("cached_tokens", cached).end_object();
  if (!job.sampling.prediction.empty()) {
    w.key("completion_tokens_details").begin_object();
    w.field("accepted_prediction_tokens", accepted).field("rejected_prediction_tokens", rejected).end_object();
  }
  w.end_object();
}

// What the call log keeps of a finished job: the output, the tool calls, the finish reason and
// the usage (counted as write_total_usage counts it).
void log_outcome(const Job& job, const std::vector<ChoiceState>& choices) {
  if (!job.call) return;
  obs::CallRecord& r = job.call->rec;
  int64_t prompt = 0, completion = 0, cached = 0;
  for (size_t p = 0; p < job.prompts.size(); ++p) {
    prompt += static_cast<int64_t>(job.prompts[p].size());
    cached += choices[p * static_cast<size_t>(job.sampling.n)].usage.cached_tokens;
  }
  std::string calls;
  json::Writer w(calls);
  w.begin_array();
  r.output_text.clear();
  r.gpu_seconds = 0;
  std::vector<ToolCall> first_calls;  // the first choice's, for its finish reason
  for (size_t i = 0; i < choices.size(); ++i) {
    const ChoiceState& c = choices[i];
    completion += c.usage.completion_tokens;
    r.gpu_seconds += c.usage.engine_seconds;
    std::string text = c.text;
    std::vector<ToolCall> parsed = c.calls;
    if (job.parse_tools && parsed.empty()) {
      ToolCallOutput out = parse_tool_calls(c.text, job.forced_tools);
      text = std::move(out.content);
      parsed = std::move(out.calls);
    }
    if (i > 0) r.output_text += "\n";
    r.output_text += text;
    for (const auto& call : parsed)
      w.begin_object().field("name", call.name).field("arguments", call.arguments).end_object();
    if (i == 0) first_calls = std::move(parsed);
  }
  w.end_array();
  if (calls != "[]") r.tool_calls_json = std::move(calls);
  r.prompt_tokens = prompt;
  r.completion_tokens = completion;
  r.cached_tokens = cached;
  if (!choices.empty() && choices[0].finish) {
    r.finish_reason = *choices[0].finish == engine::FinishReason::error ? "error"
                      : *choices[0].finish == engine::FinishReason::cancelled
                          ? "cancelled"
                          : std::string(finish_name(job, *choices[0].finish, first_calls));
  }
}

void write_token_bytes(json::Writer& w, std::string_view bytes) {
  w.key("bytes").begin_array();
  for (unsigned char c : bytes) w.value(static_cast<int64_t>(c));
  w.end_array();
}

// Chat logprobs: {"content": [{"token", "logprob", "bytes", "top_logprobs": [...]}]}.
void write_chat_logprobs(json::Writer& w, const engine::Tokenizer& tok, const std::vector<engine::TokenLogprob>& lps) {
  w.key("logprobs").begin_object().key("content").begin_array();
  for (const auto& lp : lps) {
    const std::string bytes = tok.token_bytes(lp.token);
    w.begin_object().field("token", bytes).field("logprob", static_cast<double>(lp.logprob));
    write_token_bytes(w, bytes);
    w.key("top_logprobs").begin_array();
    for (const auto& [id, value] : lp.top) {
      const std::string alt = tok.token_bytes(id);
      w.begin_object().field("token", alt).field("logprob", static_cast<double>(value));
      write_token_bytes(w, alt);
      w.end_object();
    }
    w.end_array().end_object();
  }
  w.end_array().end_object();
}

// Completions logprobs: {"tokens", "token_logprobs", "top_logprobs": [{token: logprob}], "text_offset"}.
// With echo, the prompt's tokens come first (the very first has no logprob: null). Offsets are
// where each token's text starts in `text`; special tokens, which the text leaves out, add none.
void write_completion_logprobs(json::Writer& w, const engine::Tokenizer& tok, const std::vector<TokenId>& prompt,
                               const std::vector<engine::TokenLogprob>& prompt_lps,
                               const std::vector<engine::TokenLogprob>& lps) {
  struct Entry {
    TokenId token;
    const engine::TokenLogprob* lp;  // null: the first prompt token
  };
  std::vector<Entry> entries;
  for (size_t i = 0; i < prompt.size(); ++i) {
    entries.push_back({prompt[i], i == 0 || i - 1 >= prompt_lps.size() ? nullptr : &prompt_lps[i - 1]});
  }
  for (const auto& lp : lps) entries.push_back({lp.token, &lp});
  w.key("logprobs").begin_object();
  w.key("tokens").begin_array();
  for (const auto& e : entries) w.value(tok.token_bytes(e.token));
  w.end_array().key("token_logprobs").begin_array();
  for (const auto& e : entries) {
    if (e.lp)
      w.value(static_cast<double>(e.lp->logprob));
    else
      w.null();
  }
  w.end_array().key("top_logprobs").begin_array();
  for (const auto& e : entries) {
    if (!e.lp) {
      w.null();
      continue;
    }
    w.begin_object();
    for (const auto& [id, value] : e.lp->top) w.field(tok.token_bytes(id), static_cast<double>(value));
    w.end_object();
  }
  w.end_array().key("text_offset").begin_array();
  engine::IncrementalDetokenizer text(tok, true);
  size_t offset = 0;
  for (const auto& e : entries) {
    w.value(static_cast<uint64_t>(offset));
    offset += text.push(e.token).size();
  }
  w.end_array().end_object();
}

// vLLM's stop_reason beside finish_reason: the stop string or the stop_token_ids entry that
// ended the choice; null for end of generation, a complete document or length.
void write_stop_reason(json::Writer& w, const ChoiceState& c) {
  if (c.stop_token >= 0) {
    w.field("stop_reason", static_cast<int64_t>(c.stop_token));
  } else if (c.finish == engine::FinishReason::stop && !c.stop_reason.empty() && c.stop_reason != "eos") {
    w.field("stop_reason", c.stop_reason);
  } else {
    w.key("stop_reason").null();
  }
}

void write_tool_calls(json::Writer& w, const std::vector<ToolCall>& calls, const std::string& id_prefix) {
  w.key("tool_calls").begin_array();
  for (size_t i = 0; i < calls.size(); ++i) {
    w.begin_object().field("id", fmt::format("call_{}{}", id_prefix, i)).field("type", "function");
    w.key("function").begin_object().field("name", calls[i].name).field("arguments", calls[i].arguments).end_object();
    w.end_object();
  }
  w.end_array();
}

bool blank(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return std::isspace(static_cast<unsigned char>(c)); });
}

// One chat.completion / text_completion body once every choice has finished.
std::string final_body(const Job& job, std::vector<ChoiceState>& choices) {
  const auto& tok = job.model->engine->tokenizer();
  std::string out;
  json::Writer w(out);
  w.begin_object().field("id", job.id).field("object", job.chat ? "chat.completion" : "text_completion");
  w.field("created", job.created).field("model", job.model->id);
  w.key("choices").begin_array();
  for (size_t i = 0; i < choices.size(); ++i) {
    ChoiceState& c = choices[i];
    w.begin_object().field("index", static_cast<int64_t>(i));
    std::vector<ToolCall> calls;
    if (job.chat) {
      std::string content = c.text;
      if (job.parse_tools) {
        ToolCallOutput parsed = parse_tool_calls(c.text, job.forced_tools);
        content = std::move(parsed.content);
        calls = std::move(parsed.calls);
      }
      const bool has_calls = !calls.empty();
      w.key("message").begin_object().field("role", "assistant");
      if (has_calls && blank(content))
        w.key("content").null();
      else
        w.field("content", content);
      if (has_calls) write_tool_calls(w, calls, job.id.substr(job.id.find('-') + 1, 8) + std::to_string(i) + "_");
      w.end_object();
      if (job.sampling.logprobs)
        write_chat_logprobs(w, tok, c.logprobs);
      else
        w.key("logprobs").null();
    } else {
      const std::string& prompt_text = job.prompt_texts[i / static_cast<size_t>(job.sampling.n)];
      w.field("text", job.echo ? prompt_text + c.text : c.text);
      if (job.sampling.logprobs) {
        static const std::vector<TokenId> kNone;
        const auto& prompt = job.echo ? job.prompts[i / static_cast<size_t>(job.sampling.n)] : kNone;
        write_completion_logprobs(w, tok, prompt, c.prompt_logprobs, c.logprobs);
      } else {
        w.key("logprobs").null();
      }
    }
    w.field("finish_reason", finish_name(job, c.finish.value_or(engine::FinishReason::stop), calls));
    write_stop_reason(w, c);
    w.end_object();
  }
  w.end_array();
  write_total_usage(w, job, choices);
  w.end_object();
  return out;
}

// A streamed chunk for one choice. A call's first delta carries its id, type and name; every
// delta a piece of its arguments.
std::string chunk_body(const Job& job, size_t index, ChoiceState& c, std::string_view text,
                       const std::vector<engine::TokenLogprob>& lps, const std::vector<ToolCallDelta>& calls,
                       std::optional<std::string_view> finish) {
  const auto& tok = job.model->engine->tokenizer();
  std::string out;
  json::Writer w(out);
  w.begin_object().field("id", job.id).field("object", job.chat ? "chat.completion.chunk" : "text_completion");
  w.field("created", job.created).field("model", job.model->id);
  w.key("choices").begin_array().begin_object().field("index", static_cast<int64_t>(index));
  if (job.chat) {
    w.key("delta").begin_object();
    if (!c.role_sent) {
      w.field("role", "assistant");
      c.role_sent = true;
    }
    if (!text.empty() || (!finish && calls.empty())) w.field("content", text);
    if (!calls.empty()) {
      w.key("tool_calls").begin_array();
      for (const ToolCallDelta& d : calls) {
        w.begin_object().field("index", static_cast<int64_t>(d.index));
        if (!d.name.empty()) {
          w.field("id", fmt::format("call_{}{}_{}", job.id.substr(job.id.find('-') + 1, 8), index, d.index));
          w.field("type", "function");
        }
        w.key("function").begin_object();
        if (!d.name.empty()) w.field("name", d.name);
        w.field("arguments", d.arguments).end_object();
        w.end_object();
      }
      w.end_array();
    }
    w.end_object();
    if (job.sampling.logprobs && !lps.empty())
      write_chat_logprobs(w, tok, lps);
    else
      w.key("logprobs").null();
  } else {
    w.field("text", text);
    if (job.sampling.logprobs && !lps.empty())
      write_completion_logprobs(w, tok, {}, {}, lps);
    else
      w.key("logprobs").null();
  }
  if (finish) {
    w.field("finish_reason", *finish);
    write_stop_reason(w, c);
  } else {
    w.key("finish_reason").null();
  }
  w.end_object().end_array();
  if (job.include_usage) w.key("usage").null();
  w.end_object();
  return out;
}

// A finished choice's cached prompt tokens, to settle at the cached price. The prompt is counted
// once per prompt (as the usage is): only its first choice reports it.
void add_cached(const Job& job, const TokenEvent& e) {
  if (job.limit && e.choice % std::max(1, job.sampling.n) == 0) job.limit->add_cached(e.usage.cached_tokens);
}

// A choice that ended in an error: its HTTP status and OpenAI error body, for the whole answer
// or the stream's last event. The request's own fault (allowed_token_ids and bad_words that
// leave nothing to sample) is a 400, the engine's a 500.
struct GenerationError {
  int http;
  std::string body;
};
GenerationError generation_error(const Status& error) {
  const int http = http_status_for(error.code());
  return {http, net::error_json(http, {.message = "generation failed: " + error.message(),
                                       .type = net::error_type_for_status(http)})};
}

// Runs a job to completion and answers with one JSON body. A client that leaves (an SDK
// timeout aborts this way) cancels the generation.
Awaitable<Response> answer_whole(Job job, std::shared_ptr<EventChannel> channel, net::ClientWatch* client) {
  if (client) client->on_client_gone(canceller(job));
  std::vector<ChoiceState> choices(job.prompts.size() * static_cast<size_t>(job.sampling.n));
  size_t unfinished = choices.size();
  while (unfinished > 0) {
    TokenEvent e = co_await channel->next();
    if (job.limit) job.limit->add_completion(static_cast<int64_t>(e.tokens.size()));
    if (job.call) job.call->engine_event(e);  // the first token, and the engine's timings for the trace
    ChoiceState& c = choices[static_cast<size_t>(e.choice)];
    c.text += e.text;
    c.tokens.insert(c.tokens.end(), e.tokens.begin(), e.tokens.end());
    for (auto& lp : e.logprobs) c.logprobs.push_back(std::move(lp));
    if (!e.prompt_logprobs.empty()) c.prompt_logprobs = std::move(e.prompt_logprobs);
    if (e.finish) {
      c.finish = e.finish;
      c.stop_reason = std::move(e.stop_reason);
      c.stop_token = e.stop_token;
      c.usage = e.usage;
      c.error = e.error;
      add_cached(job, e);
      --unfinished;
      if (*e.finish == engine::FinishReason::error) {
        cancel_all(job);
        log_outcome(job, choices);
        GenerationError failed = generation_error(e.error);
        co_return Response::json(failed.http, std::move(failed.body));
      }
    }
  }
  log_outcome(job, choices);
  co_return Response::json(200, final_body(job, choices));
}

// Streams a job as server-sent events.
Response answer_stream(Job job, std::shared_ptr<EventChannel> channel) {
  return Response::sse([job = std::move(job), channel](net::StreamWriter& out) -> Awaitable<void> {
    // The client going away cancels the generation: its KV blocks are freed in the next step.
    out.on_client_gone(canceller(job));
    std::vector<ChoiceState> choices(job.prompts.size() * static_cast<size_t>(job.sampling.n));
    for (ChoiceState& c : choices) c.tools = ToolCallStream(job.forced_tools);
    size_t unfinished = choices.size();
    // Every choice announces its role first, as OpenAI's stream does.
    if (job.chat) {
      for (size_t i = 0; i < choices.size(); ++i) {
        const std::string first = chunk_body(job, i, choices[i], "", {}, {}, std::nullopt);
        if (!co_await out.sse_event(first)) co_return;
      }
    }
    while (unfinished > 0) {
      TokenEvent e = co_await channel->next();
      if (job.limit) job.limit->add_completion(static_cast<int64_t>(e.tokens.size()));
      if (job.call) job.call->engine_event(e);
      const size_t index = static_cast<size_t>(e.choice);
      ChoiceState& c = choices[index];
      c.tokens.insert(c.tokens.end(), e.tokens.begin(), e.tokens.end());
      std::string text = std::move(e.text);
      c.text += text;  // for the call log
      std::vector<ToolCallDelta> calls;
      if (job.parse_tools) {
        ToolCallDeltas part = c.tools.push(text);
        if (e.finish) {
          ToolCallDeltas rest = c.tools.finish();
          part.content += rest.content;
          part.calls.insert(part.calls.end(), rest.calls.begin(), rest.calls.end());
        }
        text = std::move(part.content);
        calls = std::move(part.calls);
      }
      for (const ToolCallDelta& d : calls) {  // the calls so far, for the call log and the finish reason
        if (d.index >= c.calls.size()) c.calls.resize(d.index + 1);
        if (!d.name.empty()) c.calls[d.index].name = d.name;
        c.calls[d.index].arguments += d.arguments;
      }
      if (job.echo && c.tokens.size() == e.tokens.size())
        text = job.prompt_texts[index / static_cast<size_t>(job.sampling.n)] + text;
      if (e.finish && *e.finish == engine::FinishReason::error) {
        c.finish = e.finish;
        log_outcome(job, choices);
        co_await out.sse_event(generation_error(e.error).body);
        cancel_all(job);
        co_return;
      }
      if (!text.empty() || !calls.empty() || !e.logprobs.empty()) {
        const std::string body = chunk_body(job, index, c, text, e.logprobs, calls, std::nullopt);
        if (!co_await out.sse_event(body)) co_return;
      }
      if (e.finish) {
        c.finish = e.finish;
        c.stop_reason = std::move(e.stop_reason);
        c.stop_token = e.stop_token;
        c.usage = e.usage;
        add_cached(job, e);
        --unfinished;
        const std::string last = chunk_body(job, index, c, "", {}, {}, finish_name(job, *e.finish, c.calls));
        if (!co_await out.sse_event(last)) co_return;
      }
    }
    log_outcome(job, choices);
    if (job.include_usage) {
      std::string usage;
      json::Writer w(usage);
      w.begin_object().field("id", job.id).field("object", job.chat ? "chat.completion.chunk" : "text_completion");
      w.field("created", job.created).field("model", job.model->id);
      w.key("choices").begin_array().end_array();
      write_total_usage(w, job, choices);
      w.end_object();
      if (!co_await out.sse_event(usage)) co_return;
    }
    co_await out.sse_event("[DONE]");
  });
}

// The most tokens a job may use: every prompt, and n completions of max_tokens each (up to
// the context when max_tokens is absent, as submit has it).
struct TokensAsked {
  int64_t prompt = 0, completion = 0;
};
TokensAsked tokens_asked(const Job& job) {
  const int64_t context = job.model->engine->limits().max_context;
  TokensAsked total;
  for (const auto& p : job.prompts) {
    const auto prompt = static_cast<int64_t>(p.size());
    const int64_t max_tokens =
        job.sampling.max_tokens >= 1 ? job.sampling.max_tokens : std::max<int64_t>(1, context - prompt);
    total.prompt += prompt;
    total.completion += static_cast<int64_t>(job.sampling.n) * max_tokens;
  }
  return total;
}

// Admits the job against the limits, submits it and answers, whole or streamed, with the
// rate-limit headers. The hold rides in the job, so it settles when the answer is done.
Awaitable<Response> admit_and_run(Services& s, const Caller& caller, Request& req, Job job, bool chat) {
  if (job.truncate_prompt_tokens > 0) {
    // vLLM's left truncation: the end of a long prompt is what the model must continue.
    const auto keep = static_cast<size_t>(job.truncate_prompt_tokens);
    for (size_t i = 0; i < job.prompts.size(); ++i) {
      auto& p = job.prompts[i];
      if (p.size() <= keep) continue;
      p.erase(p.begin(), p.end() - static_cast<std::ptrdiff_t>(keep));
      job.prompt_texts[i] = job.model->engine->tokenizer().decode(p, false);
    }
  }
  const TokensAsked asked = tokens_asked(job);
  const int64_t limits_start = job.call && job.call->traced() ? trace::now_unix_nanos() : 0;
  auto admitted = admit_request(s, caller, req, job.limit_model, asked.prompt, asked.completion);
  if (job.call) job.call->limits_checked(limits_start, admitted.has_value());
  if (!admitted) co_return std::move(admitted.error());
  job.limit = std::move(*admitted);
  const std::shared_ptr<LimitHold> hold = job.limit;
  const asio::any_io_executor ex = co_await asio::this_coro::executor;
  if (job.call) job.call->engine_submitted(job.model->id);
  auto channel = submit(job, ex);
  if (!channel) {
    ApiError e = channel.error();
    if (!chat && e.code == "context_length_exceeded") e.param = "prompt";
    Response refused = response_for(e, req);
    set_limit_headers(refused, hold.get());
    co_return refused;
  }
  if (hold) {
    for (const auto& p : job.prompts) hold->add_prompt(static_cast<int64_t>(p.size()));
  }
  if (job.stream) {
    Response streamed = answer_stream(std::move(job), *channel);
    set_limit_headers(streamed, hold.get());
    co_return streamed;
  }
  auto whole = answer_whole(std::move(job), *channel, req.client);
  Response answered = co_await std::move(whole);
  set_limit_headers(answered, hold.get());
  co_return answered;
}

// Who the job runs for (the tenant inference_route put in the request context), and its model
// into the context too.
void read_identity(Request& req, Job& job) {
  job.tenant = req.ctx.tenant;
  req.ctx.model = job.model->id;
}

// A model this process serves, by id, usable for chat or completions.
ApiResult<std::shared_ptr<ServedModel>> local_model(Services& s, std::string_view id, bool for_chat) {
  auto m = s.models->find(id);
  if (!m) {
    return api_error(StatusCode::not_found, fmt::format("The model '{}' does not exist", id), "model",
                     "model_not_found");
  }
  if (m->engine->model().is_encoder) {
    return api_error(StatusCode::invalid_argument,
                     fmt::format("the model '{}' is an embedding model: use /v1/embeddings or /v1/rerank", m->id),
                     "model");
  }
  if (for_chat && !m->chat_template) {
    return api_error(StatusCode::invalid_argument,
                     fmt::format("the model '{}' has no chat template: use /v1/completions", m->id), "model");
  }
  return m;
}

// The "model" the client sent, once the caller may use it.
ApiResult<std::string> requested_model(const Caller& caller, const Fields& f) {
  auto name = f.string("model");
  if (!name) return std::unexpected(name.error());
  if (!*name) return api_error(StatusCode::invalid_argument, "'model' is required", "model");
  // Permission first: a key limited to some models learns nothing about the others.
  if (auto allowed = caller.check_model(**name); !allowed) return std::unexpected(allowed.error());
  return std::string(**name);
}

ApiResult<bool> read_stream_options(const Fields& f, Job& job) {
  auto stream = f.boolean("stream");
  if (!stream) return std::unexpected(stream.error());
  job.stream = stream->value_or(false);
  simdjson::dom::object opts;
  if (f.object()["stream_options"].get(opts) == simdjson::SUCCESS) {
    Fields o(opts);
    auto usage = o.boolean("include_usage");
    if (!usage) return std::unexpected(ApiError{usage.error().status, "stream_options.include_usage", ""});
    job.include_usage = usage->value_or(false);
  }
  return true;
}

}  // namespace

// The OpenAI messages array, normalised for chat templates: content given as an array of
// text parts becomes one string (as vLLM does for string-format templates).
ApiResult<std::string> normalise_messages(simdjson::dom::element messages) {
  simdjson::dom::array arr;
  if (messages.get(arr) != simdjson::SUCCESS || arr.size() == 0) {
    return api_error(StatusCode::invalid_argument, "'messages' must be a non-empty array", "messages");
  }
  std::string out;
  json::Writer w(out);
  w.begin_array();
  size_t i = 0;
  for (auto m : arr) {
    simdjson::dom::object obj;
    const std::string param = fmt::format("messages[{}]", i);
    if (m.get(obj) != simdjson::SUCCESS)
      return api_error(StatusCode::invalid_argument, param + " must be an object", param);
    std::string_view role;
    if (obj["role"].get(role) != simdjson::SUCCESS) {
      return api_error(StatusCode::invalid_argument, param + ".role must be a string", param + ".role");
    }
    if (role != "system" && role != "user" && role != "assistant" && role != "tool" && role != "developer") {
      return api_error(StatusCode::invalid_argument,
                       fmt::format("{}.role '{}' is not system, developer, user, assistant or tool", param, role),
                       param + ".role");
    }
    w.begin_object();
    for (auto [key, value] : obj) {
      if (key == "content") {
        std::string_view text;
        simdjson::dom::array parts;
        if (value.is_null()) {
          w.key("content").null();
        } else if (value.get(text) == simdjson::SUCCESS) {
          w.field("content", text);
        } else if (value.get(parts) == simdjson::SUCCESS) {
          std::string joined;
          for (auto part : parts) {
            std::string_view type, part_text;
            if (part["type"].get(type) != simdjson::SUCCESS || type != "text" ||
                part["text"].get(part_text) != simdjson::SUCCESS) {
              return api_error(StatusCode::invalid_argument,
                               param + ".content: only text parts ({\"type\": \"text\", \"text\": ...}) are supported",
                               param + ".content");
            }
            if (!joined.empty()) joined += "\n";
            joined += part_text;
          }
          w.field("content", joined);
        } else {
          return api_error(StatusCode::invalid_argument, param + ".content must be a string, an array of parts or null",
                           param + ".content");
        }
      } else {
        w.key(key).raw(simdjson::minify(value));
      }
    }
    w.end_object();
    ++i;
  }
  w.end_array();
  return out;
}

ApiResult<std::string> render_prompt(const ServedModel& model, const Fields& f, bool* has_tools) {
  simdjson::dom::element given;
  if (f.object()["messages"].get(given) != simdjson::SUCCESS) {
    return api_error(StatusCode::invalid_argument, "'messages' is required", "messages");
  }
  auto messages = normalise_messages(given);
  if (!messages) return std::unexpected(messages.error());
  engine::ChatTemplateInputs in;
  auto value = engine::jinja::value_from_json(*messages);
  if (!value) return api_error(StatusCode::internal, value.error().message());
  in.messages = std::move(*value);
  *has_tools = false;
  auto tools = f.object()["tools"];
  std::string_view tool_choice = "auto";
  simdjson::dom::object named_choice;
  if (f.object()["tool_choice"].get(tool_choice) != simdjson::SUCCESS &&
      f.object()["tool_choice"].get(named_choice) == simdjson::SUCCESS) {
    tool_choice = "named";
  }
  if (tool_choice != "auto" && tool_choice != "none" && tool_choice != "required" && tool_choice != "named") {
    return api_error(StatusCode::invalid_argument, "'tool_choice' must be auto, none, required or a named function",
                     "tool_choice");
  }
  simdjson::dom::array tool_list;
  if (tools.error() == simdjson::SUCCESS && !tools.is_null()) {
    if (tools.get(tool_list) != simdjson::SUCCESS)
      return api_error(StatusCode::invalid_argument, "'tools' must be an array", "tools");
    size_t k = 0;
    for (auto t : tool_list) {
      std::string_view type, name;
      if (t["type"].get(type) != simdjson::SUCCESS || type != "function" ||
          t["function"]["name"].get(name) != simdjson::SUCCESS) {
        return api_error(
            StatusCode::invalid_argument,
            fmt::format("tools[{}] must be {{\"type\": \"function\", \"function\": {{\"name\": ...}}}}", k),
            fmt::format("tools[{}]", k));
      }
      ++k;
    }
    if (tool_list.size() > 0 && tool_choice != "none") {
      auto tv = engine::jinja::value_from_json(simdjson::minify(tools.value()));
      if (!tv) return api_error(StatusCode::internal, tv.error().message());
      in.tools = std::move(*tv);
      *has_tools = true;
    }
  }
  auto add_generation_prompt = f.boolean("add_generation_prompt");
  if (!add_generation_prompt) return std::unexpected(add_generation_prompt.error());
  // vLLM's continue_final_message: the model goes on writing the last message (a prefilled
  // answer) instead of starting a new one.
  auto continue_final = f.boolean("continue_final_message");
  if (!continue_final) return std::unexpected(continue_final.error());
  const bool continue_final_message = continue_final->value_or(false);
  if (continue_final_message && add_generation_prompt->value_or(false)) {
    return api_error(StatusCode::invalid_argument,
                     "'continue_final_message' continues the last message; it cannot be combined with "
                     "'add_generation_prompt' true",
                     "continue_final_message");
  }
  in.add_generation_prompt = continue_final_message ? false : add_generation_prompt->value_or(true);
  const auto& spec = model.engine->tokenizer().spec();
  if (spec.bos) in.bos_token = spec.tokens[static_cast<size_t>(*spec.bos)];
  if (spec.eos) in.eos_token = spec.tokens[static_cast<size_t>(*spec.eos)];
  simdjson::dom::object kwargs;
  if (f.object()["chat_template_kwargs"].get(kwargs) == simdjson::SUCCESS) {
    auto kv = engine::jinja::value_from_json(simdjson::minify(kwargs));
    if (kv && kv->is_object()) in.extra = kv->as_object();
  }
  auto prompt = engine::render_chat(*model.chat_template, in);
  if (!prompt) {
    return api_error(StatusCode::invalid_argument,
                     fmt::format("the chat template refused the messages: {}", prompt.error().message()), "messages");
  }
  if (continue_final_message) {
    // Cut the prompt after the last message's text, so its end-of-turn markup goes (as
    // transformers' apply_chat_template does).
    simdjson::dom::parser parser;
    simdjson::dom::array list;
    std::string_view last;
    if (parser.parse(*messages).get(list) != simdjson::SUCCESS ||
        list.at(list.size() - 1)["content"].get(last) != simdjson::SUCCESS || last.empty()) {
      return api_error(StatusCode::invalid_argument,
                       "'continue_final_message' needs a last message whose content is a non-empty string",
                       "continue_final_message");
    }
    const size_t at = prompt->rfind(last);
    if (at == std::string::npos) {
      return api_error(StatusCode::invalid_argument,
                       "the chat template does not write the last message's content as it is, so it cannot be "
                       "continued",
                       "continue_final_message");
    }
    prompt->resize(at + last.size());
  }
  return *prompt;
}

namespace {

// Copies the schema `e` into `w` with every local "$ref" ("#...") moved under `base`: a tool's
// parameters schema nested inside the "required" schema keeps pointing at its own $defs.
void write_rebased(json::Writer& w, simdjson::dom::element e, std::string_view base) {
  simdjson::dom::object obj;
  simdjson::dom::array arr;
  if (e.get(obj) == simdjson::SUCCESS) {
    w.begin_object();
    for (auto [key, value] : obj) {
      std::string_view ref;
      if (key == "$ref" && value.get(ref) == simdjson::SUCCESS && ref.starts_with('#')) {
        w.field("$ref", std::string(base) + std::string(ref.substr(1)));
      } else {
        w.key(key);
        write_rebased(w, value, base);
      }
    }
    w.end_object();
  } else if (e.get(arr) == simdjson::SUCCESS) {
    w.begin_array();
    for (auto item : arr) write_rebased(w, item, base);
    w.end_array();
  } else {
    w.raw(simdjson::minify(e));
  }
}

// tool_choice "required" or {"type": "function", "function": {"name": ...}}: which calls the
// output must be, and the schema that constrains it to them (as vLLM does): for a named
// function its parameters object; for required a non-empty array of {"name", "parameters"},
// one alternative per tool. render_prompt has checked the shapes of tools and tool_choice.
struct ForcedToolChoice {
  ForcedTools forced;
  std::string schema;
};

ApiResult<ForcedToolChoice> forced_tool_choice(const Fields& f) {
  ForcedToolChoice out;
  auto parallel = f.boolean("parallel_tool_calls");
  if (!parallel) return std::unexpected(parallel.error());
  out.forced.single = parallel->value_or(true) == false;
  simdjson::dom::element choice;
  if (f.object()["tool_choice"].get(choice) != simdjson::SUCCESS) return out;
  std::string_view word;
  std::string_view named;
  if (choice.get(word) == simdjson::SUCCESS) {
    if (word != "required") return out;
    out.forced.kind = ForcedTools::Kind::required;
  } else if (choice["function"]["name"].get(named) == simdjson::SUCCESS) {
    out.forced.kind = ForcedTools::Kind::named;
    out.forced.name = std::string(named);
  } else {
    return api_error(StatusCode::invalid_argument,
                     "'tool_choice' must name a function: {\"type\": \"function\", \"function\": {\"name\": ...}}",
                     "tool_choice");
  }
  simdjson::dom::array tools;
  if (f.object()["tools"].get(tools) != simdjson::SUCCESS || tools.size() == 0) {
    return api_error(StatusCode::invalid_argument, "'tool_choice' required or a named function needs 'tools'",
                     "tool_choice");
  }
  // A tool's arguments are an object: without parameters (or with {}), any object.
  auto write_parameters = [](json::Writer& w, simdjson::dom::element tool, std::string_view base) {
    simdjson::dom::element p;
    simdjson::dom::object fields;
    if (tool["function"]["parameters"].get(p) == simdjson::SUCCESS && p.get(fields) == simdjson::SUCCESS &&
        fields.size() > 0) {
      write_rebased(w, p, base);
    } else {
      w.begin_object().field("type", "object").end_object();
    }
  };
  json::Writer w(out.schema);
  if (out.forced.kind == ForcedTools::Kind::named) {
    for (auto tool : tools) {
      std::string_view name;
      if (tool["function"]["name"].get(name) == simdjson::SUCCESS && name == named) {
        write_parameters(w, tool, "#");
        return out;
      }
    }
    return api_error(StatusCode::invalid_argument, fmt::format("'tool_choice' names '{}', which is not in 'tools'", named),
                     "tool_choice");
  }
  w.begin_object().field("type", "array").field("minItems", int64_t{1});
  if (out.forced.single) w.field("maxItems", int64_t{1});
  w.key("items").begin_object().key("anyOf").begin_array();
  size_t i = 0;
  for (auto tool : tools) {
    std::string_view name;
    if (tool["function"]["name"].get(name) != simdjson::SUCCESS) continue;  // render_prompt refused it
    w.begin_object().field("type", "object").key("properties").begin_object();
    w.key("name").begin_object().field("const", name).end_object();
    w.key("parameters");
    write_parameters(w, tool, fmt::format("#/items/anyOf/{}/properties/parameters", i++));
    w.end_object();
    w.key("required").begin_array().value("name").value("parameters").end_array();
    w.field("additionalProperties", false).end_object();
  }
  w.end_array().end_object().end_object();
  return out;
}

// OpenAI's predicted output, `prediction`: {"type": "content", "content": a string or text
// parts}, as the model's tokens (none when absent or null).
ApiResult<std::vector<TokenId>> read_prediction(const Fields& f, const engine::Tokenizer& tokenizer) {
  simdjson::dom::element prediction;
  if (f.object()["prediction"].get(prediction) != simdjson::SUCCESS || prediction.is_null()) return std::vector<TokenId>{};
  const auto refuse = [] {
    return api_error(StatusCode::invalid_argument,
                     "'prediction' must be {\"type\": \"content\", \"content\": a string or an array of text parts}",
                     "prediction");
  };
  std::string_view type, one;
  simdjson::dom::element content;
  simdjson::dom::array parts;
  if (prediction["type"].get(type) != simdjson::SUCCESS || type != "content" ||
      prediction["content"].get(content) != simdjson::SUCCESS) {
    return refuse();
  }
  std::string text;
  if (content.get(one) == simdjson::SUCCESS) {
    text = one;
  } else if (content.get(parts) == simdjson::SUCCESS) {
    for (auto part : parts) {
      std::string_view part_type, part_text;
      if (part["type"].get(part_type) != simdjson::SUCCESS || part_type != "text" ||
          part["text"].get(part_text) != simdjson::SUCCESS) {
        return refuse();
      }
      text += part_text;
    }
  } else {
    return refuse();
  }
  return tokenizer.encode(text, false);
}

// What chat and completions jobs share: the model, the id (also the call's), the caller, the
// stream options, the sampling parameters and the response format.
ApiResult<Job> start_job(Request& req, const Fields& f, std::shared_ptr<ServedModel> model, std::string limit_model,
                         std::shared_ptr<CallLog> call, bool chat) {
  Job job;
  job.model = std::move(model);
  job.limit_model = std::move(limit_model);
  job.call = std::move(call);
  job.chat = chat;
  job.id = (chat ? "chatcmpl-" : "cmpl-") + ids::random_hex(12);
  if (job.call) job.call->rec.id = job.id;
  job.created = unix_now();
  read_identity(req, job);
  if (auto r = read_stream_options(f, job); !r) return std::unexpected(r.error());
  auto sampling = parse_sampling(f, chat, job.model->engine->tokenizer().vocab_size());
  if (!sampling) return std::unexpected(sampling.error());
  job.sampling = std::move(*sampling);
  // vLLM's bad_words: each word as the model would write it alone and after a space.
  simdjson::dom::element bad_words;
  if (f.object()["bad_words"].get(bad_words) == simdjson::SUCCESS && !bad_words.is_null()) {
    simdjson::dom::array words;
    const auto refuse = [] {
      return api_error(StatusCode::invalid_argument, "'bad_words' must be an array of non-empty strings", "bad_words");
    };
    if (bad_words.get(words) != simdjson::SUCCESS) return refuse();
    const auto& tok = job.model->engine->tokenizer();
    for (auto w : words) {
      std::string_view word;
      if (w.get(word) != simdjson::SUCCESS) return refuse();
      while (!word.empty() && word.front() == ' ') word.remove_prefix(1);
      if (word.empty()) return refuse();
      for (const std::string& form : {std::string(word), " " + std::string(word)}) {
        auto ids = tok.encode(form, false);
        if (!ids.empty() && std::ranges::find(job.sampling.bad_words, ids) == job.sampling.bad_words.end()) {
          job.sampling.bad_words.push_back(std::move(ids));
        }
      }
    }
  }
  auto prediction = read_prediction(f, job.model->engine->tokenizer());
  if (!prediction) return std::unexpected(prediction.error());
  job.sampling.prediction = std::move(*prediction);
  if (const auto& only = job.sampling.allowed_token_ids; !only.empty() && std::ranges::all_of(only, [&](TokenId id) {
        return std::ranges::find(job.sampling.bad_words, std::vector<TokenId>{id}) != job.sampling.bad_words.end();
      })) {
    return api_error(StatusCode::invalid_argument, "'bad_words' bars every token of 'allowed_token_ids'", "bad_words");
  }
  // vLLM's truncate_prompt_tokens: k keeps the last k; -1, the model's context.
  auto truncate = f.integer("truncate_prompt_tokens", -1, int64_t{1} << 30);
  if (!truncate) return std::unexpected(truncate.error());
  if (truncate->value_or(0) == 0 && truncate->has_value()) {
    return api_error(StatusCode::invalid_argument, "'truncate_prompt_tokens' must be -1 or at least 1",
                     "truncate_prompt_tokens");
  }
  if (truncate->has_value()) {
    job.truncate_prompt_tokens = **truncate == -1 ? job.model->engine->limits().max_context : **truncate;
  }
  return job;
}

// Runs `compile` (a grammar's compilation) on the blocking pool: a new schema or regex takes up
// to ~0.1 s a pattern, too long to hold an I/O thread's other requests. A cached grammar costs
// the hop only (tens of µs).
template <class Compile>
Awaitable<ApiResult<std::shared_ptr<const engine::OutputGrammar>>> compiled(Services& s, Compile compile) {
  if (!s.blocking_pool) co_return compile();
  auto grammar = co_await run_blocking(s.blocking_pool->get_executor(), std::move(compile));
  co_return grammar;
}

// The request's output grammar (response_format and its kin), compiled off the I/O thread.
Awaitable<ApiResult<std::shared_ptr<const engine::OutputGrammar>>> output_grammar(Services& s, const Fields& f) {
  if (!asks_for_output_grammar(f)) co_return nullptr;
  auto compiling = compiled(s, [&f] { return parse_response_format(f); });
  co_return co_await std::move(compiling);
}

// POST /v1/chat/completions with a model this process serves. `limit_model`: the name limits
// and prices apply to (the model the client sent: an alias when routed).
Awaitable<Response> serve_chat(Services& s, const Caller& caller, Request& req, Fields f,
                               std::shared_ptr<ServedModel> model, std::string limit_model,
                               std::shared_ptr<CallLog> call) {
  auto started = start_job(req, f, std::move(model), std::move(limit_model), std::move(call), true);
  if (!started) co_return response_for(started.error(), req);
  Job job = std::move(*started);
  auto compiling = output_grammar(s, f);
  auto grammar = co_await std::move(compiling);
  if (!grammar) co_return response_for(grammar.error(), req);
  job.sampling.grammar = std::move(*grammar);
  bool has_tools = false;
  auto prompt = render_prompt(*job.model, f, &has_tools);
  if (!prompt) co_return response_for(prompt.error(), req);
  job.parse_tools = has_tools;
  auto forced = forced_tool_choice(f);
  if (!forced) co_return response_for(forced.error(), req);
  if (forced->forced.kind != ForcedTools::Kind::none) {
    if (job.sampling.grammar) {
      co_return response_for(ApiError{Status(StatusCode::invalid_argument,
                                             "'tool_choice' required or a named function constrains the output to "
                                             "tool calls; it cannot be combined with 'response_format'"),
                                      "tool_choice", ""},
                             req);
    }
    auto compiling_calls = compiled(s, [&forced] { return compile_schema(forced->schema, "tool_choice"); });
    auto calls = co_await std::move(compiling_calls);
    if (!calls) co_return response_for(calls.error(), req);
    job.sampling.grammar = std::move(*calls);
  }
  job.forced_tools = std::move(forced->forced);
  job.prompts.push_back(job.model->engine->tokenizer().encode(*prompt, false));
  job.prompt_texts.push_back(*prompt);
  // Named values only around co_await (GCC 12 destroys temporaries there twice).
  auto run = admit_and_run(s, caller, req, std::move(job), true);
  co_return co_await std::move(run);
}

// POST /v1/completions with a model this process serves.
Awaitable<Response> serve_completion(Services& s, const Caller& caller, Request& req, Fields f,
                                     std::shared_ptr<ServedModel> model, std::string limit_model,
                                     std::shared_ptr<CallLog> call) {
  auto started = start_job(req, f, std::move(model), std::move(limit_model), std::move(call), false);
  if (!started) co_return response_for(started.error(), req);
  Job job = std::move(*started);
  auto compiling = output_grammar(s, f);
  auto grammar = co_await std::move(compiling);
  if (!grammar) co_return response_for(grammar.error(), req);
  job.sampling.grammar = std::move(*grammar);
  auto echo = f.boolean("echo");
  if (!echo) co_return response_for(echo.error(), req);
  job.echo = echo->value_or(false);
  // echo with logprobs reports the prompt's tokens too, as OpenAI does.
  if (job.echo && job.sampling.logprobs) job.sampling.prompt_logprobs = job.sampling.top_logprobs;
  const auto& tok = job.model->engine->tokenizer();
  // prompt: a string, an array of strings, an array of token ids, or an array of those.
  auto prompt = f.object()["prompt"];
  std::string_view text;
  simdjson::dom::array list;
  const std::string bad =
      "'prompt' must be a string, an array of strings, an array of token ids or an array of arrays of token ids";
  auto ids_of = [&](simdjson::dom::array a) -> std::optional<std::vector<TokenId>> {
    std::vector<TokenId> ids;
    for (auto v : a) {
      int64_t id;
      if (v.get(id) != simdjson::SUCCESS || id < 0 || id >= static_cast<int64_t>(tok.vocab_size())) return std::nullopt;
      ids.push_back(static_cast<TokenId>(id));
    }
    return ids;
  };
  if (prompt.error() != simdjson::SUCCESS) {
    co_return response_for(ApiError{Status(StatusCode::invalid_argument, "'prompt' is required"), "prompt", ""}, req);
  }
  if (prompt.get(text) == simdjson::SUCCESS) {
    job.prompts.push_back(tok.encode(text, true));
    job.prompt_texts.emplace_back(text);
  } else if (prompt.get(list) == simdjson::SUCCESS && list.size() > 0) {
    auto first = list.at(0);
    int64_t probe;
    if (first.get(probe) == simdjson::SUCCESS) {
      auto ids = ids_of(list);
      if (!ids) co_return response_for(ApiError{Status(StatusCode::invalid_argument, bad), "prompt", ""}, req);
      job.prompt_texts.push_back(tok.decode(*ids, false));
      job.prompts.push_back(std::move(*ids));
    } else {
      for (auto item : list) {
        simdjson::dom::array inner;
        if (item.get(text) == simdjson::SUCCESS) {
          job.prompts.push_back(tok.encode(text, true));
          job.prompt_texts.emplace_back(text);
        } else if (item.get(inner) == simdjson::SUCCESS) {
          auto ids = ids_of(inner);
          if (!ids) co_return response_for(ApiError{Status(StatusCode::invalid_argument, bad), "prompt", ""}, req);
          job.prompt_texts.push_back(tok.decode(*ids, false));
          job.prompts.push_back(std::move(*ids));
        } else {
          co_return response_for(ApiError{Status(StatusCode::invalid_argument, bad), "prompt", ""}, req);
        }
      }
    }
  } else {
    co_return response_for(ApiError{Status(StatusCode::invalid_argument, bad), "prompt", ""}, req);
  }
  if (job.prompts.size() > 64) {
    co_return response_for(
        ApiError{Status(StatusCode::invalid_argument, "at most 64 prompts per request"), "prompt", ""}, req);
  }
  auto run = admit_and_run(s, caller, req, std::move(job), false);
  co_return co_await std::move(run);
}

// What the call log keeps of the request: the model asked for, the input (messages or prompt)
// and every other field as the parameters.
void describe_call(obs::CallRecord& r, simdjson::dom::object body, const std::string& model, bool chat, bool stream) {
  r.model = model;
  r.stream = stream;
  std::string_view v;
  if (body["user"].get(v) == simdjson::SUCCESS) r.user = std::string(v);
  if (r.session_id.empty() && body["metadata"]["session_id"].get(v) == simdjson::SUCCESS) r.session_id = std::string(v);
  const std::string_view input_key = chat ? "messages" : "prompt";
  std::string params;
  json::Writer w(params);
  w.begin_object();
  for (auto field : body) {
    if (field.key == input_key) {
      r.input_json = simdjson::minify(field.value);
    } else if (field.key != "model" && field.key != "user" && field.key != "stream") {
      w.key(field.key).raw(simdjson::minify(field.value));
    }
  }
  w.end_object();
  r.params_json = std::move(params);
}

// Both generation routes: the model the client sent is a route alias (served by the route's
// deployments) or a local model id.
InferenceHandler generation_handler(Services& s, bool chat) {
  return [&s, chat](Request& req, const Caller& caller) -> Awaitable<Response> {
    auto body = JsonObjectBody::parse(req.body);
    if (!body) co_return response_for(body.error(), req);
    const simdjson::dom::object obj = body->object;
    const Fields f(obj);
    auto name = requested_model(caller, f);
    if (!name) co_return response_for(name.error(), req);
    bool stream = false;
    if (obj["stream"].get(stream) != simdjson::SUCCESS) stream = false;
    std::shared_ptr<CallLog> call;  // set when serving starts (a replayed answer is no new call)
    auto serve_local = [&s, &caller, &req, f, chat, &call](std::string id,
                                                           std::string limit_model) -> Awaitable<Response> {
      if (call && call->rec.served_by.empty()) call->rec.served_by = id;
      auto model = local_model(s, id, chat);
      if (!model) co_return response_for(model.error(), req);
      if (chat) {
        auto run = serve_chat(s, caller, req, f, std::move(*model), std::move(limit_model), call);
        co_return co_await std::move(run);
      }
      auto run = serve_completion(s, caller, req, f, std::move(*model), std::move(limit_model), call);
      co_return co_await std::move(run);
    };
    auto serve = [&]() -> Awaitable<Response> {
      call = start_call_log(s, req, caller, chat ? "chat" : "completion");
      if (call) describe_call(call->rec, obj, *name, chat, stream);
      Response answer;
      if (auto route = s.routes ? s.routes->find(*name) : nullptr) {
        auto routed = serve_routed(s, caller, req, obj, *route, chat, serve_local, call);
        answer = co_await std::move(routed);
      } else {
        auto local = serve_local(*name, *name);
        answer = co_await std::move(local);
      }
      if (call) call->answered(answer);
      co_return answer;
    };
    // Idempotency-Key, for answers that are whole (a stream cannot be replayed): a repeat gets
    // the first answer without running or billing again.
    const std::string_view idem = req.headers.get("Idempotency-Key");
    if (!s.idempotency || idem.empty() || stream) {
      auto answer = serve();
      co_return co_await std::move(answer);
    }
    if (idem.size() > 255) {
      co_return response_for(
          Status(StatusCode::invalid_argument, "the Idempotency-Key header is longer than 255 bytes"), req);
    }
    const std::string key = fmt::format("{}\x1f{}\x1f{}\x1f{}", req.ctx.tenant, req.ctx.key_id, req.path, idem);
    const auto begun = s.idempotency->begin(key, std::hash<std::string_view>{}(req.body));
    switch (begun.outcome) {
      case IdempotencyCache::Outcome::replay: {
        Response again = begun.stored;
        again.headers.set("Idempotent-Replayed", "true");
        co_return again;
      }
      case IdempotencyCache::Outcome::in_progress:
        co_return response_for(Status(StatusCode::aborted, "a request with this Idempotency-Key is still in progress"),
                               req);
      case IdempotencyCache::Outcome::mismatch:
        co_return response_for(
            Status(StatusCode::invalid_argument, "this Idempotency-Key was used with a different request body"), req);
      case IdempotencyCache::Outcome::run:
        break;
    }
    // Released if this coroutine ends without an answer (cancelled with its connection).
    struct Claim {
      IdempotencyCache& cache;
      const std::string& key;
      bool done = false;
      ~Claim() {
        if (!done) cache.abandon(key);
      }
    } claim{*s.idempotency, key};
    auto run = serve();
    Response answer = co_await std::move(run);
    s.idempotency->finish(key, answer);
    claim.done = true;
    co_return answer;
  };
}

}  // namespace

void add_generation_routes(net::Router& router, Services& s) {
  router.add(net::Method::post, "/v1/chat/completions", inference_route(s, generation_handler(s, true)));
  router.add(net::Method::post, "/v1/completions", inference_route(s, generation_handler(s, false)));
}

}  // namespace llmp::api
