#!/usr/bin/env python3
"""Streams chat completions one at a time and prints one JSON line of timings.

  client.py PORT MODEL LABEL MODE REQUESTS MAX_TOKENS

MODE: "greedy" (temperature 0), "sampled" (temperature 0.7) or "hot" (temperature 1.5, where
little repeats), seeds 1..REQUESTS; end of generation ignored, so every request decodes
MAX_TOKENS tokens. "predicted": greedy, with OpenAI's `prediction` set to the answer of the same
request asked once before untimed (a regeneration: an edit that changes nothing);
"mispredicted": greedy, with a prediction of unrelated text (what a wrong one costs). The prompt asks to edit
a piece of code, the kind of request prompt lookup is meant for; a random-weight model does not
copy it, but under greedy decoding it falls into loops that prompt lookup drafts from its own
output. Decode rate: (tokens - 1) / (last token - first token); TTFT from the request to the
first token.
"""
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
from stream_chat import stream_chat, summary  # noqa: E402

CODE = '''def total_price(items, tax_rate):
    total = 0
    for item in items:
        total += item.price * item.quantity
    total += total * tax_rate
    return total
'''


def one(port, model, mode, max_tokens, seed):
    body = {
        "model": model,
        "messages": [{"role": "user", "content": "Rename `total` to `amount` in this function and return it whole:\n\n" + CODE}],
        "max_tokens": max_tokens,
        "temperature": {"sampled": 0.7, "hot": 1.5}.get(mode, 0),
        "seed": seed,
        "ignore_eos": True,
        # A random-weight model may write special tokens only: stream them as text.
        "skip_special_tokens": False,
    }
    if mode == "predicted":
        body["prediction"] = {"type": "content", "content": stream_chat(port, body)["text"]}
    elif mode == "mispredicted":
        body["prediction"] = {"type": "content", "content": CODE.replace("total", "amount") * 8}
    return stream_chat(port, body)


def main():
    port, model, label, mode, requests, max_tokens = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
    runs = [one(int(port), model, mode, max_tokens, seed) for seed in range(1, requests + 1)]
    print(json.dumps({"label": label, "mode": mode, **summary(runs)}))


if __name__ == "__main__":
    main()
