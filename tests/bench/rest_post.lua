-- wrk script of the REST benchmarks (driven by tests/bench/wrk.py): POST a JSON body,
-- count every response by status and every 200 whose body lacks the expected field, and
-- report as one JSON line, since wrk's own summary cannot tell a 200 from a 503.
--
-- Environment: BENCH_WRK_BODY (file with the JSON body), BENCH_WRK_EXPECT (a string every
-- 200 body must contain), BENCH_WRK_TOKEN (optional bearer token), BENCH_WRK_KEY_PREFIX
-- (optional: every request gets a unique Idempotency-Key that starts with it).

local body_file = assert(io.open(os.getenv("BENCH_WRK_BODY"), "rb"))
wrk.method = "POST"
wrk.body = body_file:read("*a")
body_file:close()
wrk.headers["Content-Type"] = "application/json"

local token = os.getenv("BENCH_WRK_TOKEN")
if token and token ~= "" then
   wrk.headers["Authorization"] = "Bearer " .. token
end

local expected = os.getenv("BENCH_WRK_EXPECT")
local key_prefix = os.getenv("BENCH_WRK_KEY_PREFIX")

-- Per-thread globals: every thread runs this file in a Lua state of its own; done() reads
-- them back through the thread handles that setup() keeps.
statuses = {}
unexpected_bodies = 0
thread_number = 0
local sent = 0

if key_prefix and key_prefix ~= "" then
   function request()
      sent = sent + 1
      wrk.headers["Idempotency-Key"] = key_prefix .. "-" .. thread_number .. "-" .. sent
      return wrk.format()
   end
end

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
   if status == 200 and not string.find(body, expected, 1, true) then
      unexpected_bodies = unexpected_bodies + 1
   end
end

local threads = {}

function setup(thread)
   table.insert(threads, thread)
   thread:set("thread_number", #threads)
end

function done(summary, latency, requests)
   local counts, unexpected = {}, 0
   for _, thread in ipairs(threads) do
      for status, count in pairs(thread:get("statuses")) do
         counts[status] = (counts[status] or 0) + count
      end
      unexpected = unexpected + thread:get("unexpected_bodies")
   end
   local status_fields = {}
   for status, count in pairs(counts) do
      table.insert(status_fields, string.format('"%d": %d', status, count))
   end
   local errors = summary.errors
   io.write(string.format(
      'wrk-report {"requests": %d, "duration_us": %d, "statuses": {%s}, '
         .. '"unexpected_bodies": %d, "p50_us": %d, "p99_us": %d, '
         .. '"socket_errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}}\n',
      summary.requests, summary.duration, table.concat(status_fields, ", "), unexpected,
      latency:percentile(50), latency:percentile(99),
      errors.connect, errors.read, errors.write, errors.timeout
   ))
end
