-- wrk script of Agora's benchmark: POSTs GraphQL requests read from a file (one JSON body per line,
-- taken in turn, so a scenario can visit several users or posts), counts bad responses (not 200, or
-- a GraphQL "errors" entry) and prints a one-line JSON summary for bench/cmd/benchrun.
--
--   wrk -t1 -c32 -d15s -s graphql.lua -H 'Authorization: Bearer …' http://host/graphql -- bodies.jsonl

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

local prepared = {}
local turn = 0
bad = 0 -- global: done() reads it from each thread with thread:get

function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Accept"] = "application/json"
  for line in io.lines(args[1]) do
    -- Formatted once here: building requests in request() would cost the load generator CPU
    -- that the server under test needs (the machine is small).
    prepared[#prepared + 1] = wrk.format(nil, nil, nil, line)
  end
  if #prepared == 0 then
    error("no request bodies in " .. args[1])
  end
end

function request()
  turn = turn % #prepared + 1
  return prepared[turn]
end

function response(status, headers, body)
  if status ~= 200 or string.find(body, '"errors"', 1, true) then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local bad_total = 0
  for _, t in ipairs(threads) do
    bad_total = bad_total + t:get("bad")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"bad":%d,"socket_errors":%d,"non2xx":%d}\n',
    summary.requests, summary.duration, math.floor(latency:percentile(50)), math.floor(latency:percentile(99)),
    bad_total, e.connect + e.read + e.write + e.timeout, e.status))
end
