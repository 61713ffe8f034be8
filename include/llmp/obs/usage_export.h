#pragma once
// A usage report as the admin API sends it: JSON (rows and totals) or CSV (a header row, then
// one line per group: no totals line, so the file imports as plain rows), the columns being the
// query's groups in its order, then the counters and the cost.

#include <string>

#include "llmp/obs/usage_ledger.h"

namespace llmp::obs {

//! {"object":"usage","from","to","group_by":[...],"data":[{group fields..., calls, errors,
//! input_tokens, output_tokens, cached_tokens, latency_ms_sum, gpu_seconds, cost}],"totals":{...}}.
//! Group fields: tenant_id, project_id, key_id, model, hour (unix seconds).
std::string usage_json(const UsageReport& report);

//! RFC 4180 CSV with CRLF line ends. The hour column is ISO 8601 UTC ("2025-01-31T10:00:00Z");
//! a field starting with '=', '+', '-' or '@' gets a leading "'" so a spreadsheet never runs it.
std::string usage_csv(const UsageReport& report);

}  // namespace llmp::obs
