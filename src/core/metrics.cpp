#include "llmp/core/metrics.h"

#include <dirent.h>
#include <fmt/format.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace llmp::metrics {

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), buckets_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  std::sort(bounds_.begin(), bounds_.end());
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double v) {
  const size_t i = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
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

void append_help_text(std::string& out, std::string_view help) {
  for (char c : help) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out.push_back(c);
  }
}

}  // namespace

std::string Registry::render() const {
  std::string out;
  out.reserve(16 * 1024);
  std::vector<std::function<void(std::string&)>> collectors;
  {
    std::lock_guard lock(mu_);
    for (const auto& f : families_) {
      out += "# HELP " + f->name + " ";
      append_help_text(out, f->help);
      out += "\n# TYPE " + f->name + " " + f->type + "\n";
      for (const auto& s : f->series) {
        if (s.counter) {
          out += f->name;
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
            const std::string le = i < h.upper_bounds().size() ? format_value(h.upper_bounds()[i]) : "+Inf";
            out += f->name + "_bucket";
            append_labels(out, s.labels, "le", le);
            out += fmt::format(" {}\n", cumulative);
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
  for (const auto& c : collectors) c(out);
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
