-- wrk script for perf/rest_load.py: alternates /metrics and /v1/stats, paces every
-- connection so that all of them together offer REST_LOAD_RATE requests/s (wrk itself is
-- closed-loop), and prints the result as one JSON line for the driver to read.
local paths = {"/metrics", "/v1/stats"}
local rate = tonumber(os.getenv("REST_LOAD_RATE") or "10000")
local connections = tonumber(os.getenv("REST_LOAD_CONNECTIONS") or "32")
local counter = 0

request = function()
  counter = counter + 1
  return wrk.format("GET", paths[counter % #paths + 1])
end

delay = function()
  return connections * 1000 / rate  -- milliseconds between one connection's requests
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "bytes": %d, "connect_errors": %d, "read_errors": %d, ' ..
    '"write_errors": %d, "status_errors": %d, "timeouts": %d, "latency_us_p50": %d, ' ..
    '"latency_us_p90": %d, "latency_us_p99": %d, "latency_us_max": %d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
