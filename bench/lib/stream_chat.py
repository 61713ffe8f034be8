"""One streamed chat completion, timed: shared by the benchmark clients.

stream_chat(port, body) posts `body` (stream forced on, usage asked for) to
/v1/chat/completions on 127.0.0.1:port and returns the time to the first content token, the
time from the first to the last, the completion tokens (the server's usage, or the content
chunks where it reports none: one per token for llmplatform and llama-server) and the text.
Where no content came at all (llama-server leaves special tokens out of the text), llama-server's
own timings of the request stand in.
"""
import http.client
import json
import statistics
import time


def stream_chat(port, body):
    body = dict(body, stream=True, stream_options={"include_usage": True})
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    start = time.perf_counter()
    conn.request("POST", "/v1/chat/completions", json.dumps(body), {"Content-Type": "application/json"})
    resp = conn.getresponse()
    if resp.status != 200:
        raise SystemExit(f"HTTP {resp.status}: {resp.read()[:300]!r}")
    first = last = timings = None
    text = ""
    tokens = pieces = 0
    for raw in resp:
        line = raw.decode().strip()
        if not line.startswith("data:") or line == "data: [DONE]":
            continue
        chunk = json.loads(line[5:])
        if chunk.get("usage"):
            tokens = chunk["usage"]["completion_tokens"]
        timings = chunk.get("timings") or timings
        for c in chunk.get("choices", []):
            piece = (c.get("delta") or {}).get("content") or ""
            if piece:
                pieces += 1
                now = time.perf_counter()
                first = first or now
                last = now
                text += piece
    conn.close()
    if first is None and timings:
        # No content (llama-server renders no special tokens): its own timings of the request.
        n = timings["predicted_n"]
        return {"ttft_ms": timings["prompt_ms"], "decode_s": (n - 1) / timings["predicted_per_second"], "tokens": n, "text": ""}
    return {"ttft_ms": (first - start) * 1000, "decode_s": last - first, "tokens": tokens or pieces, "text": text}


def summary(runs):
    """Medians over runs of stream_chat: decode rate (tokens - 1) / (last - first token), TTFT."""
    rates = [(r["tokens"] - 1) / r["decode_s"] for r in runs if r["tokens"] > 1 and r["decode_s"] > 0]
    return {
        "requests": len(runs),
        "tokens": sum(r["tokens"] for r in runs),
        "decode_tok_s_median": round(statistics.median(rates), 2),
        "ttft_ms_first": round(runs[0]["ttft_ms"], 1),
        "ttft_ms_median": round(statistics.median(r["ttft_ms"] for r in runs), 1),
    }
