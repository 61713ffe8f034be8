#include "llmp/obs/usage_export.h"

#include <fmt/format.h>

#include <chrono>

#include "llmp/core/json.h"

namespace llmp::obs {
namespace {

std::string_view json_name(UsageDim dim) {
  switch (dim) {
    case UsageDim::tenant: return "tenant_id";
    case UsageDim::project: return "project_id";
    case UsageDim::key: return "key_id";
    case UsageDim::model: return "model";
    case UsageDim::hour: return "hour";
  }
  return "";
}

const std::string& text_of(const UsageReportRow& row, UsageDim dim) {
  static const std::string empty;
  switch (dim) {
    case UsageDim::tenant: return row.tenant_id;
    case UsageDim::project: return row.project_id;
    case UsageDim::key: return row.key_id;
    case UsageDim::model: return row.model;
    case UsageDim::hour: break;
  }
  return empty;
}

void write_counts(json::Writer& w, const store::UsageCounts& c, double cost) {
  w.field("calls", c.calls)
      .field("errors", c.errors)
      .field("input_tokens", c.input_tokens)
      .field("output_tokens", c.output_tokens)
      .field("cached_tokens", c.cached_tokens)
      .field("latency_ms_sum", c.latency_ms_sum)
      .field("gpu_seconds", c.gpu_seconds)
      .field("cost", cost);
}

std::string iso_hour(int64_t unix_seconds) {
  using namespace std::chrono;
  const sys_seconds t{seconds(unix_seconds)};
  const sys_days day = floor<days>(t);
  const year_month_day ymd(day);
  const hh_mm_ss hms(t - day);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", static_cast<int>(ymd.year()),
                     static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()), hms.hours().count(),
                     hms.minutes().count(), hms.seconds().count());
}

// One CSV field: quoted when it holds a separator, a quote or a line break; a leading
// "'" defuses a formula (a model name is whatever a client asked for).
void append_csv_field(std::string& out, std::string_view v) {
  std::string text;
  if (!v.empty() && (v[0] == '=' || v[0] == '+' || v[0] == '-' || v[0] == '@' || v[0] == '\t' || v[0] == '\r')) {
    text = "'";
  }
  text += v;
  if (text.find_first_of(",\"\r\n") == std::string::npos) {
    out += text;
    return;
  }
  out += '"';
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

// Shortest form that reads back the same double (as the JSON writer does).
std::string number(double v) { return fmt::format("{}", v); }

}  // namespace

std::string usage_json(const UsageReport& report) {
  std::string out;
  json::Writer w(out);
  w.begin_object()
      .field("object", "usage")
      .field("from", report.query.from)
      .field("to", report.query.to)
      .key("group_by")
      .begin_array();
  for (UsageDim dim : report.query.group_by) w.value(to_string(dim));
  w.end_array().key("data").begin_array();
  for (const auto& row : report.rows) {
    w.begin_object();
    for (UsageDim dim : report.query.group_by) {
      if (dim == UsageDim::hour) {
        w.field("hour", row.hour);
      } else {
        w.field(json_name(dim), text_of(row, dim));
      }
    }
    write_counts(w, row.counts, row.cost);
    w.end_object();
  }
  w.end_array().key("totals").begin_object();
  write_counts(w, report.totals, report.total_cost);
  w.end_object().end_object();
  return out;
}

std::string usage_csv(const UsageReport& report) {
  std::string out;
  for (UsageDim dim : report.query.group_by) {
    out += json_name(dim);
    out += ',';
  }
  out += "calls,errors,input_tokens,output_tokens,cached_tokens,latency_ms_sum,gpu_seconds,cost\r\n";
  for (const auto& row : report.rows) {
    for (UsageDim dim : report.query.group_by) {
      if (dim == UsageDim::hour) {
        out += iso_hour(row.hour);
      } else {
        append_csv_field(out, text_of(row, dim));
      }
      out += ',';
    }
    const auto& c = row.counts;
    out += fmt::format("{},{},{},{},{},{},{},{}\r\n", c.calls, c.errors, c.input_tokens, c.output_tokens,
                       c.cached_tokens, number(c.latency_ms_sum), number(c.gpu_seconds), number(row.cost));
  }
  return out;
}

}  // namespace llmp::obs
