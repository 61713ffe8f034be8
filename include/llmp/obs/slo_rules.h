#pragma once
// The in-process SLO and threshold rules as a Prometheus rules file, for teams that alert
// through Prometheus and Alertmanager: recording rules for each SLO's error ratio over every
// window (from llmp_slo_requests_total), the same multiwindow burn-rate alerts, and each
// threshold rule as an alert with its `for`.

#include <string>
#include <vector>

#include "llmp/obs/alert_rule.h"
#include "llmp/obs/slo.h"

namespace llmp::obs {

//! The rules YAML (`promtool check rules` accepts it).
std::string prometheus_rules(const std::vector<SloSpec>& slos, const std::vector<ThresholdRule>& rules);

}  // namespace llmp::obs
