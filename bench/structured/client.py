#!/usr/bin/env python3
"""Streams chat completions one at a time and prints one JSON line of timings.

  client.py PORT MODEL LABEL MODE REQUESTS MAX_TOKENS

MODE: "free" (no constraint, end of generation ignored), "schema" (response_format
json_schema with the schema below) or "gbnf" (llama-server's `grammar` field: the same record in
GBNF). Decode rate: (tokens - 1) / (last token - first token),
tokens counted as the server's usage reports them; TTFT from the request to the first token.
"""
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
from stream_chat import stream_chat, summary  # noqa: E402

SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 40},
        "age": {"type": "integer", "minimum": 0, "maximum": 150},
        "role": {"enum": ["engineer", "designer", "manager", "other"]},
        "skills": {"type": "array", "items": {"type": "string", "maxLength": 24}, "maxItems": 6},
        "remote": {"type": "boolean"},
    },
    "required": ["name", "age", "role", "skills", "remote"],
    "additionalProperties": False,
}

# The schema above as GBNF, as llama.cpp's json_schema_to_grammar would write it (maxLength as
# a bounded repetition), so both constrained modes ask for the same record. The grammar tests
# use the same file.
MEMBER_GBNF = (Path(__file__).resolve().parents[2] / "test/fixtures/grammars/member.gbnf").read_text()


def one(port, model, mode, max_tokens, seed):
    body = {
        "model": model,
        "messages": [{"role": "user", "content": "Describe one member of the team as JSON."}],
        "max_tokens": max_tokens,
        "temperature": 0.7,
        "seed": seed,
    }
    if mode == "free":
        body["ignore_eos"] = True
    elif mode == "gbnf":
        body["grammar"] = MEMBER_GBNF
    else:
        body["response_format"] = {"type": "json_schema", "json_schema": {"name": "member", "schema": SCHEMA}}
    run = stream_chat(port, body)
    text = run["text"]
    valid = None
    if mode != "free":
        try:
            json.loads(text)
            valid = True
        except ValueError:
            valid = False  # cut short by max_tokens
    return dict(run, valid=valid)


def main():
    port, model, label, mode, requests, max_tokens = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
    runs = [one(int(port), model, mode, max_tokens, seed) for seed in range(1, requests + 1)]
    print(json.dumps({
        "label": label,
        "mode": mode,
        **summary(runs),
        "complete_json": sum(1 for r in runs if r["valid"]) if mode != "free" else None,
    }))


if __name__ == "__main__":
    main()
