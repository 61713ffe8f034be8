#!/usr/bin/env python3
"""An OpenAI-compatible upstream for the gateway's tests, with failures on demand.

A real HTTP/1.1 server on loopback (one thread per connection). The first path segment picks
the behaviour, so one process serves every scenario: POST /<scenario>/v1/chat/completions.

  ok             a chat completion (usage 7 prompt + 5 completion tokens); with "stream": true,
                 SSE chunks, then a usage chunk when stream_options.include_usage, then [DONE]
  fail           500 every time
  flaky<N>       503 for the first N requests with this scenario name, then as ok
  ratelimited    429 with Retry-After: 1 for the first request, then as ok
  slow           headers only after 3 s
  cut            a stream that stops after two chunks without its terminating chunk
  bad            400 (the request's fault: never retried nor failed over)

GET /stats answers {"<scenario>": requests received, ...}; the bearer token of the last request
per scenario is in {"auth": {...}}, its traceparent header in {"traceparent": {...}}. Prints "port <n>" on its first line once listening.
"""
import json
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

counts = {}
auth = {}
traceparents = {}
lock = threading.Lock()


def completion(model, text="hello from upstream"):
    return {
        "id": "chatcmpl-up",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 7, "completion_tokens": 5, "total_tokens": 12},
    }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send_json(self, status, body, extra=()):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def do_GET(self):
        if self.path == "/stats":
            with lock:
                self.send_json(200, dict(counts, auth=dict(auth), traceparent=dict(traceparents)))
            return
        self.send_json(404, {"error": {"message": "not found"}})

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        scenario = self.path.strip("/").split("/")[0]
        with lock:
            counts[scenario] = counts.get(scenario, 0) + 1
            n = counts[scenario]
            auth[scenario] = self.headers.get("Authorization", "")
            traceparents[scenario] = self.headers.get("traceparent", "")
        model = body.get("model", "")
        if scenario == "fail":
            return self.send_json(500, {"error": {"message": "upstream exploded", "type": "server_error"}})
        if scenario == "bad":
            return self.send_json(400, {"error": {"message": "bad request upstream", "type": "invalid_request_error"}})
        if scenario.startswith("flaky") and n <= int(scenario[5:]):
            return self.send_json(503, {"error": {"message": "warming up", "type": "server_error"}})
        if scenario == "ratelimited" and n == 1:
            return self.send_json(429, {"error": {"message": "slow down", "type": "rate_limit_error"}}, [("Retry-After", "1")])
        if scenario == "slow":
            time.sleep(3)
        if not body.get("stream"):
            return self.send_json(200, completion(model))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        base = {"id": "chatcmpl-up", "object": "chat.completion.chunk", "created": int(time.time()), "model": model}
        for i, word in enumerate(["hello", " from", " upstream"]):
            delta = {"content": word} if i else {"role": "assistant", "content": word}
            self.chunk(b"data: " + json.dumps(dict(base, choices=[{"index": 0, "delta": delta, "finish_reason": None}])).encode() + b"\n\n")
            if scenario == "cut" and i == 1:
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            time.sleep(0.01)
        self.chunk(b"data: " + json.dumps(dict(base, choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}])).encode() + b"\n\n")
        if (body.get("stream_options") or {}).get("include_usage"):
            usage = {"prompt_tokens": 7, "completion_tokens": 5, "total_tokens": 12}
            self.chunk(b"data: " + json.dumps(dict(base, choices=[], usage=usage)).encode() + b"\n\n")
        self.chunk(b"data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print("port %d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
