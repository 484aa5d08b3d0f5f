-- wrk script: POST pre-signed deposit bodies, one per line of a file, each thread its own share.
-- usage: wrk ... -s scripts/wrk_bodies.lua URL -- BODIES_FILE THREADS
-- Each body is a complete signed request (items with their salts, a fresh nonce, signed for the chain id that
-- the target server reports at GET /v1/chain): make them with scripts/bench_supervision.py's signed_bodies.
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

function init(args)
  bodies = {}
  pos = 0
  local nthreads = tonumber(args[2])
  local i = 0
  for line in io.lines(args[1]) do
    if i % nthreads == id then bodies[#bodies + 1] = line end
    i = i + 1
  end
end

function request()
  pos = pos + 1
  local body = bodies[(pos - 1) % #bodies + 1]
  return wrk.format("POST", "/v1/deposits", {["Content-Type"] = "application/json"}, body)
end

function done(summary, latency, requests)
  io.write(string.format('WRK {"requests":%d,"non2xx":%d,"socket_errors":%d,"p50_us":%d,"p99_us":%d,"duration_us":%d}\n',
    summary.requests, summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), summary.duration))
end
