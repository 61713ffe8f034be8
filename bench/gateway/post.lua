-- wrk: POST one small chat completion request. Env: BENCH_KEY (the API key), BENCH_MODEL (the
-- model alias). The same bytes go to the upstream, nginx and llmplatform.
local key = os.getenv("BENCH_KEY") or "none"
local model = os.getenv("BENCH_MODEL") or "bench"
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. key
wrk.body = '{"model":"' .. model .. '","messages":[{"role":"user","content":"hi"}],"max_tokens":5}'
