-- bench/fulfil.lua: wrk script sending Prime Gaming fulfilments, each with a
-- unique transaction id, spread over the benchmark accounts and SKUs.
--
-- Environment (read in every thread):
--   BENCH_PREFIX    per-run transaction id prefix (ids are PREFIX-<thread>-<n>)
--   BENCH_KEY       bearer key with scope fulfillment:primegaming
--   BENCH_ACCOUNTS  number of accounts "bench-0" .. "bench-<N-1>" (10000)
--   BENCH_SKUS      comma-separated Prime Gaming SKUs
-- done() prints one line "BENCH_JSON {...}" for bench/run.py. "sent" counts
-- request() calls: wrk makes one extra call on its first thread to check the
-- script, and requests in flight when wrk stops are sent but not counted in
-- summary.requests, so 2xx <= fulfilments completed <= sent.

local threads = {}
local next_tid = 0

function setup(thread)
   thread:set("tid", next_tid)
   table.insert(threads, thread)
   next_tid = next_tid + 1
end

local prefix, head, accounts, skus, nskus

function init(args)
   sent = 0
   prefix = (os.getenv("BENCH_PREFIX") or "wrk") .. "-" .. tid .. "-"
   accounts = tonumber(os.getenv("BENCH_ACCOUNTS") or "10000")
   skus = {}
   for s in string.gmatch(os.getenv("BENCH_SKUS") or "bench_gold_100", "[^,]+") do
      table.insert(skus, s)
   end
   nskus = #skus
   local key = os.getenv("BENCH_KEY")
   head = "POST /v1/primegaming/fulfillment HTTP/1.1\r\n" ..
      "Host: " .. wrk.headers["Host"] .. "\r\n" ..
      (key and ("Authorization: Bearer " .. key .. "\r\n") or "") ..
      "Content-Type: application/json\r\n" ..
      "Content-Length: "
end

function request()
   sent = sent + 1
   -- 7919 is prime, so consecutive requests walk every account.
   local account = (sent * 7919 + tid * 4973) % accounts
   local body = '{"account_id":"bench-' .. account ..
      '","sku":"' .. skus[sent % nskus + 1] ..
      '","transaction_id":"' .. prefix .. sent .. '"}'
   return head .. #body .. "\r\n\r\n" .. body
end

function done(summary, latency, requests)
   local total_sent = 0
   for _, t in ipairs(threads) do
      total_sent = total_sent + (t:get("sent") or 0)
   end
   local e = summary.errors
   io.write(string.format(
      'BENCH_JSON {"requests":%d,"duration_us":%d,"sent":%d,' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
      '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d,"mean":%.1f}}\n',
      summary.requests, summary.duration, total_sent,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency:percentile(99.9), latency.max, latency.mean))
end
