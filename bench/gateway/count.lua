-- wrk: as post.lua, and counts the responses by status; done() prints one line
-- "statuses 200=N 429=M ..." summed over the threads. Only for the limit run: a response()
-- callback makes wrk itself slower, so the throughput runs use post.lua.
local key = os.getenv("BENCH_KEY") or "none"
local model = os.getenv("BENCH_MODEL") or "bench"
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. key
wrk.body = '{"model":"' .. model .. '","messages":[{"role":"user","content":"hi"}],"max_tokens":5}'

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

counts = {}
function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    for status, n in pairs(t:get("counts")) do
      total[status] = (total[status] or 0) + n
    end
  end
  local parts = {}
  for status, n in pairs(total) do table.insert(parts, status .. "=" .. n) end
  table.sort(parts)
  io.write("statuses " .. table.concat(parts, " ") .. "\n")
end
