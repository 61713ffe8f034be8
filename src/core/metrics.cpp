#include "llmp/core/metrics.h"

#include <dirent.h>
#include <fmt/format.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace llmp::metrics {

// Fixed-size ids so keeping an exemplar never allocates; W3C trace and span ids are 32 and 16
// hex digits.
struct Histogram::ExemplarSlot {
  double value = 0;
  double timestamp = 0;
  bool set = false;
  uint8_t trace_len = 0;
  uint8_t span_len = 0;
  char trace_id[32];
  char span_id[16];
};

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)),
      buckets_(new std::atomic<uint64_t>[bounds_.size() + 1]),
      exemplars_(new ExemplarSlot[bounds_.size() + 1]) {
  std::sort(bounds_.begin(), bounds_.end());
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

Histogram::~Histogram() = default;

size_t Histogram::bucket_of(double v) const {
  return static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
}

void Histogram::observe(double v, const Exemplar& exemplar) {
  observe(v);
  keep_exemplar(v, exemplar);
}

void Histogram::keep_exemplar(double v, const Exemplar& exemplar) const {
  if (exemplar.trace_id.empty() || exemplar.trace_id.size() > sizeof(ExemplarSlot::trace_id) ||
      exemplar.span_id.size() > sizeof(ExemplarSlot::span_id)) {
    return;
  }
  const double timestamp =
      exemplar.timestamp > 0
          ? exemplar.timestamp
          : std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  ExemplarSlot& slot = exemplars_[bucket_of(v)];
  // Held for a few stores; contention only between requests finishing in the same bucket at once.
  while (exemplar_lock_.test_and_set(std::memory_order_acquire)) {
  }
  slot.value = v;
  slot.timestamp = timestamp;
  slot.set = true;
  slot.trace_len = static_cast<uint8_t>(exemplar.trace_id.size());
  slot.span_len = static_cast<uint8_t>(exemplar.span_id.size());
  std::memcpy(slot.trace_id, exemplar.trace_id.data(), exemplar.trace_id.size());
  std::memcpy(slot.span_id, exemplar.span_id.data(), exemplar.span_id.size());
  exemplar_lock_.clear(std::memory_order_release);
}

std::optional<ExemplarSample> Histogram::exemplar(size_t i) const {
  ExemplarSlot copy;
  while (exemplar_lock_.test_and_set(std::memory_order_acquire)) {
  }
  copy = exemplars_[i];
  exemplar_lock_.clear(std::memory_order_release);
  if (!copy.set) return std::nullopt;
  return ExemplarSample{copy.value, copy.timestamp, std::string(copy.trace_id, copy.trace_len),
                        std::string(copy.span_id, copy.span_len)};
}

void Histogram::observe(double v) {
  const size_t i = bucket_of(v);
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  double cur = sum_.load(std::memory_order_relaxed);
  while (!sum_.compare_exchange_weak(cur, cur + v, std::memory_order_relaxed)) {
  }
}

std::vector<double> latency_buckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

struct Registry::Family {
  std::string name, help, type;
  struct Series {
    Labels labels;
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<Histogram> histogram;
  };
  std::vector<Series> series;

  Series* find(const Labels& labels) {
    for (Series& s : series) {
      if (s.labels == labels) return &s;
    }
    return nullptr;
  }
};

Registry::Registry() = default;
Registry::~Registry() = default;

Registry::Family& Registry::family(std::string_view name, std::string_view help, std::string_view type) {
  for (auto& f : families_) {
    if (f->name == name) return *f;
  }
  auto f = std::make_unique<Family>();
  f->name = name;
  f->help = help;
  f->type = type;
  families_.push_back(std::move(f));
  return *families_.back();
}

Counter& Registry::counter(std::string_view name, std::string_view help, const Labels& labels) {
  std::lock_guard lock(mu_);
  Family& f = family(name, help, "counter");
  if (auto* s = f.find(labels)) return *s->counter;
  f.series.push_back({labels, std::make_unique<Counter>(), nullptr, nullptr});
  return *f.series.back().counter;
}

Gauge& Registry::gauge(std::string_view name, std::string_view help, const Labels& labels) {
  std::lock_guard lock(mu_);
  Family& f = family(name, help, "gauge");
  if (auto* s = f.find(labels)) return *s->gauge;
  f.series.push_back({labels, nullptr, std::make_unique<Gauge>(), nullptr});
  return *f.series.back().gauge;
}

Histogram& Registry::histogram(std::string_view name, std::string_view help, std::vector<double> upper_bounds,
                               const Labels& labels) {
  std::lock_guard lock(mu_);
  Family& f = family(name, help, "histogram");
  if (auto* s = f.find(labels)) return *s->histogram;
  f.series.push_back({labels, nullptr, nullptr, std::make_unique<Histogram>(std::move(upper_bounds))});
  return *f.series.back().histogram;
}

void Registry::add_collector(std::function<void(std::string& out)> collector) {
  add_collector([c = std::move(collector)](std::string& out, Format) { c(out); });
}

void Registry::add_collector(std::function<void(std::string& out, Format format)> collector) {
  std::lock_guard lock(mu_);
  collectors_.push_back(std::move(collector));
}

void append_label_value(std::string& out, std::string_view value) {
  for (char c : value) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out.push_back(c);
  }
}

namespace {

void append_labels(std::string& out, const Labels& labels, std::string_view extra_key = {},
                   std::string_view extra_value = {}) {
  if (labels.empty() && extra_key.empty()) return;
  out.push_back('{');
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out.push_back(',');
    first = false;
    out += k;
    out += "=\"";
    append_label_value(out, v);
    out.push_back('"');
  }
  if (!extra_key.empty()) {
    if (!first) out.push_back(',');
    out += extra_key;
    out += "=\"";
    out += extra_value;
    out.push_back('"');
  }
  out.push_back('}');
}

std::string format_value(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  return fmt::format("{}", v);
}

// OpenMetrics wants `le` as a canonical float ("1.0", not "1"), as Go and Python print them.
std::string canonical_number(double v) {
  std::string s = format_value(v);
  if (std::isfinite(v) && s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}

// The text format escapes backslash and newline in HELP; OpenMetrics also the double quote.
void append_help_text(std::string& out, std::string_view help, Format format) {
  for (char c : help) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else if (c == '"' && format == Format::openmetrics_1_0_0)
      out += "\\\"";
    else
      out.push_back(c);
  }
}

// OpenMetrics names a counter family without the `_total` its samples carry.
std::string_view family_name(std::string_view name, std::string_view type, Format format) {
  if (format == Format::openmetrics_1_0_0 && type == "counter" && name.ends_with("_total")) {
    name.remove_suffix(6);
  }
  return name;
}

void append_family_header(std::string& out, std::string_view name, std::string_view type, std::string_view help,
                          Format format) {
  const std::string_view family = family_name(name, type, format);
  out += "# HELP ";
  out += family;
  out.push_back(' ');
  append_help_text(out, help, format);
  out += "\n# TYPE ";
  out += family;
  out.push_back(' ');
  out += format == Format::openmetrics_1_0_0 && type == "untyped" ? "unknown" : type;
  out.push_back('\n');
}

// ` # {trace_id="…",span_id="…"} <value> <timestamp>` after a bucket's count.
void append_exemplar(std::string& out, const ExemplarSample& e) {
  out += " # {trace_id=\"";
  append_label_value(out, e.trace_id);
  out += "\",span_id=\"";
  append_label_value(out, e.span_id);
  out += "\"} ";
  out += format_value(e.value);
  out += fmt::format(" {:.3f}", e.timestamp);
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// HELP text from the text format (escapes \\ and \n) re-escaped for OpenMetrics (also \").
void append_help_as_openmetrics(std::string& out, std::string_view help) {
  for (size_t i = 0; i < help.size(); ++i) {
    const char c = help[i];
    if (c == '\\' && i + 1 < help.size() && (help[i + 1] == '\\' || help[i + 1] == 'n')) {
      out.push_back(c);
      out.push_back(help[++i]);
    } else if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else {
      out.push_back(c);
    }
  }
}

// Rewrites the value of the `le` label in a bucket sample's label set as a canonical number.
void append_bucket_sample(std::string& out, std::string_view line) {
  size_t at = line.find("le=\"");
  while (at != std::string_view::npos && at > 0 && line[at - 1] != '{' && line[at - 1] != ',') {
    at = line.find("le=\"", at + 1);
  }
  if (at == std::string_view::npos) {
    out += line;
    return;
  }
  const size_t begin = at + 4;
  const size_t end = line.find('"', begin);
  if (end == std::string_view::npos) {
    out += line;
    return;
  }
  const std::string value(line.substr(begin, end - begin));
  char* parsed_end = nullptr;
  const double v = std::strtod(value.c_str(), &parsed_end);
  out += line.substr(0, begin);
  out += parsed_end == value.c_str() + value.size() && !value.empty() ? canonical_number(v) : value;
  out += line.substr(end);
}

}  // namespace

Format negotiate(std::string_view accept) {
  double openmetrics_q = 0;
  double text_q = 0;
  while (!accept.empty()) {
    const size_t comma = accept.find(',');
    std::string_view range = accept.substr(0, comma);
    accept = comma == std::string_view::npos ? std::string_view{} : accept.substr(comma + 1);
    const size_t semi = range.find(';');
    const std::string_view type = trim(range.substr(0, semi));
    double q = 1;
    std::string_view version;
    for (std::string_view params = semi == std::string_view::npos ? std::string_view{} : range.substr(semi + 1);
         !params.empty();) {
      const size_t next = params.find(';');
      const std::string_view param = trim(params.substr(0, next));
      params = next == std::string_view::npos ? std::string_view{} : params.substr(next + 1);
      if (param.starts_with("q=")) {
        q = std::strtod(std::string(param.substr(2)).c_str(), nullptr);
      } else if (param.starts_with("version=")) {
        version = param.substr(8);
      }
    }
    if (type == "application/openmetrics-text") {
      if (version.empty() || version == "1.0.0" || version == "0.0.1") openmetrics_q = std::max(openmetrics_q, q);
    } else if (type == "text/plain" || type == "text/*" || type == "*/*") {
      text_q = std::max(text_q, q);
    }
  }
  return openmetrics_q > 0 && openmetrics_q >= text_q ? Format::openmetrics_1_0_0 : Format::text_0_0_4;
}

std::string_view content_type(Format format) {
  return format == Format::openmetrics_1_0_0 ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
                                             : "text/plain; version=0.0.4; charset=utf-8";
}

std::string text_to_openmetrics(std::string_view text) {
  // A HELP line usually comes before its TYPE, so learn every family's type first.
  std::vector<std::pair<std::string_view, std::string_view>> types;
  for (std::string_view rest = text; !rest.empty();) {
    const size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
    if (!line.starts_with("# TYPE ")) continue;
    line.remove_prefix(7);
    const size_t sp = line.find(' ');
    if (sp != std::string_view::npos) types.emplace_back(line.substr(0, sp), trim(line.substr(sp + 1)));
  }
  auto type_of = [&](std::string_view name) -> std::string_view {
    for (const auto& [n, t] : types) {
      if (n == name) return t;
    }
    return "untyped";
  };

  std::string out;
  out.reserve(text.size() + text.size() / 8);
  std::string_view family;       // the family of the last TYPE line, as the text format names it
  std::string_view family_type;
  for (std::string_view rest = text; !rest.empty();) {
    const size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
    if (trim(line).empty()) continue;  // OpenMetrics has no blank lines
    if (line.starts_with("# HELP ") || line.starts_with("# TYPE ")) {
      const bool is_help = line[2] == 'H';
      std::string_view body = line.substr(7);
      const size_t sp = body.find(' ');
      const std::string_view name = body.substr(0, sp);
      const std::string_view value = sp == std::string_view::npos ? std::string_view{} : body.substr(sp + 1);
      const std::string_view type = type_of(name);
      out += is_help ? "# HELP " : "# TYPE ";
      out += family_name(name, type, Format::openmetrics_1_0_0);
      out.push_back(' ');
      if (is_help) {
        append_help_as_openmetrics(out, value);
      } else {
        family = name;
        family_type = type;
        out += type == "untyped" ? "unknown" : type;
      }
      out.push_back('\n');
      continue;
    }
    if (line.front() == '#') continue;  // other comments are not OpenMetrics
    const std::string_view sample = line.substr(0, line.find_first_of("{ "));
    if (family_type == "counter" && sample == family && !sample.ends_with("_total")) {
      out += sample;
      out += "_total";
      out += line.substr(sample.size());
    } else if (family_type == "histogram" && sample.size() == family.size() + 7 && sample.starts_with(family) &&
               sample.ends_with("_bucket")) {
      append_bucket_sample(out, line);
    } else {
      out += line;
    }
    out.push_back('\n');
  }
  return out;
}

void append_histogram(std::string& out, std::string_view name, std::string_view labels, const Histogram& h,
                      Format format) {
  const std::string_view comma = labels.empty() ? "" : ",";
  uint64_t cumulative = 0;
  const auto& bounds = h.upper_bounds();
  for (size_t i = 0; i <= bounds.size(); ++i) {
    cumulative += h.bucket_count(i);
    out += fmt::format("{}_bucket{{{}{}le=\"{}\"}} {}", name, labels, comma,
                       i < bounds.size() ? format_value(bounds[i]) : "+Inf", cumulative);
    if (format == Format::openmetrics_1_0_0) {
      if (auto e = h.exemplar(i)) append_exemplar(out, *e);
    }
    out.push_back('\n');
  }
  // _count is the +Inf bucket, so the two always agree in one scrape.
  const std::string braced = labels.empty() ? std::string() : fmt::format("{{{}}}", labels);
  out += fmt::format("{}_sum{} {}\n{}_count{} {}\n", name, braced, format_value(h.sum()), name, braced, cumulative);
}

std::string Registry::render(Format format) const {
  const bool om = format == Format::openmetrics_1_0_0;
  std::string out;
  out.reserve(16 * 1024);
  std::vector<std::function<void(std::string&, Format)>> collectors;
  {
    std::lock_guard lock(mu_);
    for (const auto& f : families_) {
      append_family_header(out, f->name, f->type, f->help, format);
      for (const auto& s : f->series) {
        if (s.counter) {
          out += f->name;
          if (om && !f->name.ends_with("_total")) out += "_total";
          append_labels(out, s.labels);
          out += fmt::format(" {}\n", s.counter->value());
        } else if (s.gauge) {
          out += f->name;
          append_labels(out, s.labels);
          out += " " + format_value(s.gauge->value()) + "\n";
        } else {
          const Histogram& h = *s.histogram;
          uint64_t cumulative = 0;
          for (size_t i = 0; i <= h.upper_bounds().size(); ++i) {
            cumulative += h.bucket_count(i);
            const double bound = i < h.upper_bounds().size() ? h.upper_bounds()[i] : INFINITY;
            const std::string le = om ? canonical_number(bound) : format_value(bound);
            out += f->name + "_bucket";
            append_labels(out, s.labels, "le", le);
            out += fmt::format(" {}", cumulative);
            if (om) {
              if (auto e = h.exemplar(i)) append_exemplar(out, *e);
            }
            out.push_back('\n');
          }
          // _count is the +Inf bucket, so the two always agree in one scrape.
          out += f->name + "_sum";
          append_labels(out, s.labels);
          out += " " + format_value(h.sum()) + "\n";
          out += f->name + "_count";
          append_labels(out, s.labels);
          out += fmt::format(" {}\n", cumulative);
        }
      }
    }
    collectors = collectors_;
  }
  if (!om) {
    for (const auto& c : collectors) c(out, format);
    return out;
  }
  std::string collected;
  for (const auto& c : collectors) c(collected, format);
  out += text_to_openmetrics(collected);
  out += "# EOF\n";
  return out;
}

Registry& default_registry() {
  static Registry registry;
  return registry;
}

namespace {

struct ProcStat {
  double cpu_seconds = 0;
  double start_time_seconds = 0;
  double virtual_bytes = 0;
  double resident_bytes = 0;
};

double boot_time_seconds() {
  std::ifstream in("/proc/stat");
  std::string key;
  while (in >> key) {
    if (key == "btime") {
      double v = 0;
      in >> v;
      return v;
    }
    in.ignore(1 << 20, '\n');
  }
  return 0;
}

ProcStat read_proc_stat() {
  ProcStat st;
  std::ifstream in("/proc/self/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Fields after the parenthesised command name, which may itself contain spaces.
  const size_t close = text.rfind(')');
  if (close == std::string::npos) return st;
  std::istringstream fields(text.substr(close + 2));
  std::vector<std::string> f;
  std::string tok;
  while (fields >> tok) f.push_back(tok);
  // f[0] is field 3 (state); utime is field 14, stime 15, starttime 22, vsize 23, rss 24.
  if (f.size() < 22) return st;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  st.cpu_seconds = (std::stod(f[11]) + std::stod(f[12])) / ticks;
  static const double btime = boot_time_seconds();
  st.start_time_seconds = btime + std::stod(f[19]) / ticks;
  st.virtual_bytes = std::stod(f[20]);
  st.resident_bytes = std::stod(f[21]) * static_cast<double>(sysconf(_SC_PAGESIZE));
  return st;
}

size_t count_open_fds() {
  size_t n = 0;
  if (DIR* dir = opendir("/proc/self/fd")) {
    while (dirent* e = readdir(dir)) {
      if (e->d_name[0] != '.') ++n;
    }
    closedir(dir);
    if (n > 0) --n;  // the descriptor opendir itself holds
  }
  return n;
}

void append_simple(std::string& out, std::string_view name, std::string_view type, std::string_view help, double v) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n{} {}\n", name, help, name, type, name, format_value(v));
}

}  // namespace

void add_process_collector(Registry& registry) {
  registry.add_collector([](std::string& out) {
    const ProcStat st = read_proc_stat();
    rlimit lim{};
    getrlimit(RLIMIT_NOFILE, &lim);
    append_simple(out, "process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.",
                  st.cpu_seconds);
    append_simple(out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", st.resident_bytes);
    append_simple(out, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", st.virtual_bytes);
    append_simple(out, "process_open_fds", "gauge", "Number of open file descriptors.",
                  static_cast<double>(count_open_fds()));
    append_simple(out, "process_max_fds", "gauge", "Maximum number of open file descriptors.",
                  static_cast<double>(lim.rlim_cur));
    append_simple(out, "process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.",
                  st.start_time_seconds);
  });
}

}  // namespace llmp::metrics
