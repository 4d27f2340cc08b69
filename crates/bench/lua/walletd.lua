-- wrk script of walletd-bench (crates/bench). Configured through environment variables set by the suite:
--   WB_KIND   fixed (the URL's path) | get-blob | put-blob | mix
--   WB_AUTH   bearer token sent as Authorization (empty: none)
--   WB_BLOBS  number of distinct blob ids (get-blob reads them, put-blob writes them in turn)
--   WB_B64    length of the base64url `data` of a PUT body (1368 characters = 1026 bytes)
--   WB_MIX    for mix: comma-separated paths; `PUT` writes a blob, every other entry is a GET of that path
-- done() prints one line "WRKJSON {...}" that the suite parses.
local kind = os.getenv("WB_KIND") or "fixed"
local auth = os.getenv("WB_AUTH") or ""
local blobs = tonumber(os.getenv("WB_BLOBS") or "100")
local b64 = tonumber(os.getenv("WB_B64") or "1368")
local mix = {}
for p in string.gmatch(os.getenv("WB_MIX") or "", "[^,]+") do
  table.insert(mix, p)
end
local body = '{"data":"' .. string.rep("A", b64) .. '"}'
local get_headers = {}
local put_headers = { ["Content-Type"] = "application/json" }
if auth ~= "" then
  get_headers["Authorization"] = "Bearer " .. auth
  put_headers["Authorization"] = "Bearer " .. auth
end
local n = 0
local next_tid = 0

function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
end

function init(args)
  math.randomseed(1000 + (tid or 0))
end

local function put_blob()
  local id = "b" .. (tid or 0) .. "-" .. (n % blobs)
  return wrk.format("PUT", "/storage/credentials/" .. id, put_headers, body)
end

request = function()
  n = n + 1
  if kind == "get-blob" then
    return wrk.format("GET", "/storage/credentials/g" .. math.random(0, blobs - 1), get_headers)
  elseif kind == "put-blob" then
    return put_blob()
  elseif kind == "mix" then
    local p = mix[(n % #mix) + 1]
    if p == "PUT" then
      return put_blob()
    end
    return wrk.format("GET", p, get_headers)
  end
  return wrk.format("GET", nil, get_headers)
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"mean_us":%.1f,' ..
    '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.mean,
    e.connect, e.read, e.write, e.status, e.timeout))
end
