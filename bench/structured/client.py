#!/usr/bin/env python3
"""Streams chat completions one at a time and prints one JSON line of timings.

  client.py PORT MODEL LABEL MODE REQUESTS MAX_TOKENS

MODE: "free" (no constraint, end of generation ignored), "schema" (response_format
json_schema with the schema below) or "gbnf" (llama-server's `grammar` field: the same record in
GBNF). Decode rate: (tokens - 1) / (last token - first token),
tokens counted as the server's usage reports them; TTFT from the request to the first token.
"""
import http.client
import json
import statistics
import sys
import time
from pathlib import Path

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
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if mode == "free":
        body["ignore_eos"] = True
    elif mode == "gbnf":
        body["grammar"] = MEMBER_GBNF
    else:
        body["response_format"] = {"type": "json_schema", "json_schema": {"name": "member", "schema": SCHEMA}}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    start = time.perf_counter()
    conn.request("POST", "/v1/chat/completions", json.dumps(body), {"Content-Type": "application/json"})
    resp = conn.getresponse()
    if resp.status != 200:
        raise SystemExit(f"HTTP {resp.status}: {resp.read()[:300]!r}")
    first = last = None
    text = ""
    tokens = pieces = 0
    for raw in resp:
        line = raw.decode().strip()
        if not line.startswith("data:") or line == "data: [DONE]":
            continue
        chunk = json.loads(line[5:])
        if chunk.get("usage"):
            tokens = chunk["usage"]["completion_tokens"]
        for c in chunk.get("choices", []):
            piece = (c.get("delta") or {}).get("content") or ""
            if piece:
                pieces += 1
                now = time.perf_counter()
                first = first or now
                last = now
                text += piece
    conn.close()
    valid = None
    if mode != "free":
        try:
            json.loads(text)
            valid = True
        except ValueError:
            valid = False  # cut short by max_tokens
    # Servers that report no usage: the content chunks (one per token for both servers here).
    return {"ttft_ms": (first - start) * 1000, "decode_s": last - first, "tokens": tokens or pieces, "valid": valid}


def main():
    port, model, label, mode, requests, max_tokens = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
    runs = [one(int(port), model, mode, max_tokens, seed) for seed in range(1, requests + 1)]
    rates = [(r["tokens"] - 1) / r["decode_s"] for r in runs if r["tokens"] > 1 and r["decode_s"] > 0]
    print(json.dumps({
        "label": label,
        "mode": mode,
        "requests": len(runs),
        "tokens": sum(r["tokens"] for r in runs),
        "decode_tok_s_median": round(statistics.median(rates), 2),
        "ttft_ms_first": round(runs[0]["ttft_ms"], 1),
        "ttft_ms_median": round(statistics.median(r["ttft_ms"] for r in runs), 1),
        "complete_json": sum(1 for r in runs if r["valid"]) if mode != "free" else None,
    }))


if __name__ == "__main__":
    main()
