# Validates generated outputs with the `jsonschema` package (Debian's python3-jsonschema), as an
# independent reference: a JSON file of [{"name", "schema", "outputs": [text, ...]}, ...].
# Formats are checked as far as the package can without optional modules (date, email, ipv4,
# uuid; not time and date-time, which need rfc3339-validator). Prints one line per case; exit status 1 when any output is invalid, 3 when jsonschema is
# missing.
import json
import sys

try:
    from jsonschema import Draft202012Validator
except ImportError:
    print("jsonschema is missing: install python3-jsonschema")
    sys.exit(3)

cases = json.load(open(sys.argv[1], encoding="utf-8"))
invalid = 0
for case in cases:
    validator = Draft202012Validator(case["schema"], format_checker=Draft202012Validator.FORMAT_CHECKER)
    for i, text in enumerate(case["outputs"]):
        errors = list(validator.iter_errors(json.loads(text)))
        if errors:
            invalid += 1
            print("INVALID", case["name"], i, errors[0].message[:200], repr(text[:300]))
    print("checked", case["name"], len(case["outputs"]))
sys.exit(1 if invalid else 0)
