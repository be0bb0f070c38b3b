-- wrk script for perf/rest_load.py: alternates /metrics and /v1/stats, offers
-- REST_LOAD_RATE requests/s in total, and prints the result as one JSON line for the
-- driver to read.
--
-- wrk is closed-loop: a connection sends its next request `delay()` ms after the last
-- answer. A fixed delay per connection (connections / rate) therefore offers less than
-- the rate by the answer's latency (it reached 7,089 of 10,000 req/s on an idle host).
-- Instead every request takes the next slot of one schedule shared by all connections of
-- the wrk thread (rest_load.py runs one: `-t1`; each thread has its own Lua state and
-- would offer the full rate again), one slot every 1/rate s, and waits only until its
-- slot. wrk truncates the delay to whole milliseconds, so a request may leave up to 1 ms
-- before its slot; the schedule does not drift from it. A slot that has passed is not
-- made up for: the schedule restarts from now, so a server that stalls serves less than
-- the offered rate, which the driver reports, instead of being hit by a catch-up burst.
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } rest_load_timespec;
int clock_gettime(int clock_id, rest_load_timespec *ts);
]]
local CLOCK_MONOTONIC = 1
local timespec = ffi.new("rest_load_timespec")
local function now_ms()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, timespec)
  return tonumber(timespec.tv_sec) * 1000 + tonumber(timespec.tv_nsec) / 1e6
end

local paths = {"/metrics", "/v1/stats"}
local rate = tonumber(os.getenv("REST_LOAD_RATE") or "10000")
local slot_ms = 1000 / rate
local next_slot_ms = nil
local counter = 0

request = function()
  counter = counter + 1
  return wrk.format("GET", paths[counter % #paths + 1])
end

delay = function()
  local now = now_ms()
  next_slot_ms = math.max((next_slot_ms or now) + slot_ms, now)
  return math.max(0, next_slot_ms - now)
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
