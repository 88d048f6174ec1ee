-- wrk script: availability searches over random cities, dates and party sizes.
-- Usage: wrk -t2 -c64 -d20s -s bench/search.lua http://127.0.0.1:8080
local cities = {"Lisbon", "Porto", "Barcelona", "Paris", "Amsterdam", "Berlin", "Rome", "Prague"}
local base = os.time() + 86400 * 7
math.randomseed(42)

request = function()
  local city = cities[math.random(#cities)]
  local start = base + 86400 * math.random(0, 300)
  local nights = math.random(1, 5)
  local check_in = os.date("!%Y-%m-%d", start)
  local check_out = os.date("!%Y-%m-%d", start + 86400 * nights)
  local guests = math.random(1, 3)
  local path = string.format("/api/v1/availability?city=%s&check_in=%s&check_out=%s&guests=%d&limit=20",
    city, check_in, check_out, guests)
  return wrk.format("GET", path)
end
