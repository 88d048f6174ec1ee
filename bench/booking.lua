-- wrk script: guests booking random stays (1-3 nights, 7-360 days ahead) across every room
-- type listed in the targets file, each request with its own Idempotency-Key.
-- Usage (bench/booking.sh writes both): TOKEN=... TARGETS=/tmp/targets.lua \
--   wrk -t2 -c64 -d20s -s bench/booking.lua http://127.0.0.1:18080
local targets = dofile(os.getenv("TARGETS"))
local token = os.getenv("TOKEN")
local day = 86400
local today = os.time()
local threads = {}

setup = function(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

init = function()
  math.randomseed(os.time() * 1000 + id)
  counter = 0
  statuses = {}
  samples = {}
end

request = function()
  counter = counter + 1
  local t = targets[math.random(#targets)]
  local start = today + day * math.random(7, 360)
  local nights = math.random(1, 3)
  local body = string.format(
    '{"hotel_id":"%s","room_type_id":"%s","check_in":"%s","check_out":"%s","guests":%d,"guest_name":"Bench Guest"}',
    t[1], t[2], os.date("!%Y-%m-%d", start), os.date("!%Y-%m-%d", start + day * nights),
    math.random(1, math.min(t[3], 2)))
  return wrk.format("POST", "/api/v1/bookings", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
    ["Idempotency-Key"] = string.format("bench-%d-%d-%d", id, counter, math.random(1, 1000000000)),
  }, body)
end

response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status ~= 201 and samples[status] == nil then samples[status] = body end
end

done = function(summary, latency, requests)
  local totals = {}
  for _, thread in ipairs(threads) do
    local s = thread:get("statuses")
    for code, n in pairs(s) do totals[code] = (totals[code] or 0) + n end
  end
  local seconds = summary.duration / 1e6
  for code, n in pairs(totals) do
    io.write(string.format("status %d: %d (%.1f/s)\n", code, n, n / seconds))
  end
  for _, thread in ipairs(threads) do
    for code, body in pairs(thread:get("samples")) do
      io.write(string.format("status %d sample: %s\n", code, string.sub(body, 1, 300)))
    end
  end
end
