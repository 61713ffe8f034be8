#!/usr/bin/python3
"""Parses an OpenMetrics exposition with prometheus_client's strict parser (which rejects a
missing # EOF, a counter family named with _total, a bad exemplar, ...) and prints what a test
checks: one line per family and one per exemplar.

usage: check_openmetrics.py FILE     exit 0 when it parses, 1 with the parser's error, 77 when
                                     prometheus_client is not installed."""
import sys

try:
    from prometheus_client.openmetrics.parser import text_string_to_metric_families
except ImportError:
    print("prometheus_client is not installed (Debian: python3-prometheus-client)")
    sys.exit(77)

with open(sys.argv[1], encoding="utf-8") as f:
    text = f.read()
try:
    families = list(text_string_to_metric_families(text))
except Exception as e:  # the parser raises ValueError and friends
    print(f"invalid OpenMetrics: {e}")
    sys.exit(1)
for family in families:
    print(f"family {family.name} {family.type}")
    for s in family.samples:
        if s.exemplar:
            print(f"exemplar {s.name} le={s.labels.get('le')} trace_id={s.exemplar.labels.get('trace_id')} "
                  f"span_id={s.exemplar.labels.get('span_id')} value={s.exemplar.value}")
