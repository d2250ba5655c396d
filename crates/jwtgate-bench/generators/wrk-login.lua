-- wrk driving the same logins as jwtgate-bench, to compare load generators:
--   jwtgate-bench target/release/jwtgate --scenario batch-64 --hold /tmp/hold &
--   HOLD=/tmp/hold wrk -t2 -c64 -d10s -s crates/jwtgate-bench/generators/wrk-login.lua http://ADDRESS
-- The hold file: address, server pid, login path, then one token per line.
local requests = {}
local next_request = 1

function init(args)
  local lines = {}
  for line in io.lines(os.getenv("HOLD")) do lines[#lines + 1] = line end
  local path = lines[3]
  for i = 4, #lines do
    local body = '{"role":"bench","jwt":"' .. lines[i] .. '"}'
    requests[#requests + 1] = wrk.format("PUT", path, {["Content-Type"] = "application/json"}, body)
  end
  next_request = math.random(#requests)
end

function request()
  local r = requests[next_request]
  next_request = next_request % #requests + 1
  return r
end

function response(status, headers, body)
  if status ~= 200 then errors = (errors or 0) + 1 end
end
