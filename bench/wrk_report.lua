-- Loaded by bench/run.py with `wrk -s`: optional request body from the environment, and one JSON
-- line of results at the end (latency in microseconds).
local method = os.getenv("WRK_METHOD")
local body = os.getenv("WRK_BODY")
if method then wrk.method = method end
if body then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end

function done(summary, latency, requests)
  local statuses = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "bytes": %d, "errors_connect": %d, ' ..
    '"errors_read": %d, "errors_write": %d, "errors_status": %d, "errors_timeout": %d, ' ..
    '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, summary.bytes, statuses.connect, statuses.read,
    statuses.write, statuses.status, statuses.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean))
end
