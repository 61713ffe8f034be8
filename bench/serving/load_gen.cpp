// A load generator for OpenAI-compatible chat servers: streaming chat completions with Poisson
// arrivals and prompt/output lengths from a fixed seeded distribution, at one concurrency
// level. Reports TTFT and inter-token latency p50/p99, requests/s and output tokens/s.
//
//   load_gen --port N --model NAME --concurrency C --requests R [--rate λ] [--seed S]
//            [--max-seconds T] [--label text]
// Prints a table row and a JSON line. Works against llmplatform and llama-server alike.
#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

using Clock = std::chrono::steady_clock;

namespace {

struct Options {
  int port = 8080;
  std::string model = "m";
  int concurrency = 1;
  int requests = 32;
  double rate = 0;  // requests/s over all workers; 0: back to back
  uint64_t seed = 1;
  double max_seconds = 300;
  std::string label = "server";
};

struct Sample {
  double ttft = 0;
  std::vector<double> itl;
  int tokens = 0;
  bool ok = false;
  std::string failure;  // why a request did not finish: the response's first line, or what broke
};

const char* kWords[] = {"the", "model", "engine", "answers", "quickly", "with", "tokens", "and", "a", "platform",
                        "serves", "requests", "from", "many", "tenants", "over", "one", "binary", "cache", "blocks"};

// Prompt and output lengths: log-normal-ish, clamped, from the request's own seed.
std::string make_prompt(std::mt19937_64& rng, int* max_tokens) {
  std::lognormal_distribution<double> in_len(std::log(120.0), 0.5), out_len(std::log(64.0), 0.5);
  const int words = std::clamp(static_cast<int>(in_len(rng)), 16, 400);
  *max_tokens = std::clamp(static_cast<int>(out_len(rng)), 8, 256);
  std::string p;
  for (int i = 0; i < words; ++i) {
    if (i) p += ' ';
    p += kWords[rng() % (sizeof kWords / sizeof *kWords)];
  }
  return p;
}

int connect_to(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

// One streamed chat completion; times each SSE event that carries content.
Sample run_one(const Options& o, const std::string& prompt, int max_tokens) {
  Sample s;
  const int fd = connect_to(o.port);
  if (fd < 0) {
    s.failure = "connect failed";
    return s;
  }
  const std::string body = fmt::format(
      R"({{"model":"{}","messages":[{{"role":"user","content":"{}"}}],"max_tokens":{},"temperature":0.7,"ignore_eos":true,"stream":true}})",
      o.model, prompt, max_tokens);
  const std::string req = fmt::format(
      "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n"
      "Connection: close\r\n\r\n{}",
      body.size(), body);
  const auto t0 = Clock::now();
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    ::close(fd);
    s.failure = "send failed";
    return s;
  }
  std::string buf;
  char tmp[16384];
  auto last = t0;
  bool first = true;
  size_t scanned = 0;
  for (;;) {
    const ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
    if (n <= 0) break;
    buf.append(tmp, static_cast<size_t>(n));
    const auto now = Clock::now();
    // Each "data: {...content...}" event is one or more tokens; llama-server and we send one
    // token per event.
    size_t at;
    while ((at = buf.find("data: ", scanned)) != std::string::npos) {
      const size_t end = buf.find("\n\n", at);
      if (end == std::string::npos) break;
      const std::string_view ev(buf.data() + at, end - at);
      scanned = end + 2;
      if (ev.find("\"content\":\"") == std::string_view::npos || ev.find("\"content\":\"\"") != std::string_view::npos) continue;
      ++s.tokens;
      const double dt = std::chrono::duration<double>(now - (first ? t0 : last)).count();
      if (first) s.ttft = dt;
      else s.itl.push_back(dt);
      first = false;
      last = now;
    }
    if (buf.find("data: [DONE]") != std::string::npos) {
      s.ok = true;
      break;
    }
  }
  ::close(fd);
  if (!s.ok) {
    const size_t eol = buf.find("\r\n");
    s.failure = buf.empty() ? "connection closed without a response"
                            : buf.substr(0, std::min(eol, size_t{80})) + (buf.find("\"error\"") != std::string::npos ? " (error body)" : "");
  }
  return s;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string f = argv[i], v = argv[i + 1];
    if (f == "--port") o.port = std::stoi(v);
    else if (f == "--model") o.model = v;
    else if (f == "--concurrency") o.concurrency = std::stoi(v);
    else if (f == "--requests") o.requests = std::stoi(v);
    else if (f == "--rate") o.rate = std::stod(v);
    else if (f == "--seed") o.seed = std::stoull(v);
    else if (f == "--max-seconds") o.max_seconds = std::stod(v);
    else if (f == "--label") o.label = v;
  }
  std::atomic<int> next{0};
  std::mutex mu;
  std::vector<Sample> samples;
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration<double>(o.max_seconds);
  // Arrival times are fixed up front from the seed: the same workload for every server.
  std::vector<double> arrival(static_cast<size_t>(o.requests), 0.0);
  {
    std::mt19937_64 rng(o.seed);
    std::exponential_distribution<double> gap(o.rate > 0 ? o.rate : 1.0);
    double t = 0;
    for (auto& a : arrival) {
      a = o.rate > 0 ? t : 0;
      t += gap(rng);
    }
  }
  std::vector<std::thread> workers;
  for (int w = 0; w < o.concurrency; ++w) {
    workers.emplace_back([&] {
      for (;;) {
        const int i = next++;
        if (i >= o.requests || Clock::now() > deadline) return;
        std::this_thread::sleep_until(start + std::chrono::duration<double>(arrival[static_cast<size_t>(i)]));
        std::mt19937_64 rng(o.seed * 1000003 + static_cast<uint64_t>(i));
        int max_tokens = 0;
        const std::string prompt = make_prompt(rng, &max_tokens);
        Sample s = run_one(o, prompt, max_tokens);
        std::lock_guard lock(mu);
        samples.push_back(std::move(s));
      }
    });
  }
  for (auto& t : workers) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<double> ttft, itl;
  int ok = 0;
  long tokens = 0;
  std::map<std::string, int> failures;
  for (const auto& s : samples) {
    if (!s.ok) ++failures[s.failure];
    if (!s.ok) continue;
    ++ok;
    tokens += s.tokens;
    ttft.push_back(s.ttft);
    itl.insert(itl.end(), s.itl.begin(), s.itl.end());
  }
  fmt::print("| {} | {} | {} | {:.2f} | {:.1f} | {:.0f} | {:.0f} | {:.1f} | {:.1f} |\n", o.label, o.concurrency, ok,
             ok / elapsed, tokens / elapsed, percentile(ttft, 0.5) * 1e3, percentile(ttft, 0.99) * 1e3,
             percentile(itl, 0.5) * 1e3, percentile(itl, 0.99) * 1e3);
  fmt::print(stderr,
             "{{\"bench\":\"serving\",\"server\":\"{}\",\"concurrency\":{},\"ok\":{},\"failed\":{},\"rps\":{:.3f},\"output_tps\":{:.2f},"
             "\"ttft_p50_ms\":{:.1f},\"ttft_p99_ms\":{:.1f},\"itl_p50_ms\":{:.2f},\"itl_p99_ms\":{:.2f}}}\n",
             o.label, o.concurrency, ok, static_cast<int>(samples.size()) - ok, ok / elapsed, tokens / elapsed,
             percentile(ttft, 0.5) * 1e3, percentile(ttft, 0.99) * 1e3, percentile(itl, 0.5) * 1e3, percentile(itl, 0.99) * 1e3);
  for (const auto& [why, count] : failures) fmt::print(stderr, "{}: {} request(s) failed: {}\n", o.label, count, why);
  return ok == static_cast<int>(samples.size()) ? 0 : 1;
}
