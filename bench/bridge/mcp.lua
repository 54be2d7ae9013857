-- wrk script: POST one MCP tools/call per request on a session initialised beforehand.
--
-- Run with as many threads as connections (wrk -tN -cN): each thread owns one connection and
-- one session, so responses on a connection arrive in request order and can be checked.
--
-- Environment:
--   MCPB_SESSIONS          comma-separated Mcp-Session-Id values, one per thread
--   MCPB_PROTOCOL_VERSION  the negotiated MCP-Protocol-Version header value; "2026-07-28"
--                          sends 2026 requests instead: no session, the _meta envelope in the
--                          body and the Mcp-Method / Mcp-Name routing headers
--   MCPB_TOOL              "echo" (fast server) or "time" (mcp-server-time get_current_time)
--   MCPB_TOOL_NAME         the name the echo tool is called by (default "echo"; a gateway
--                          that namespaces serves it as, e.g., "fast__echo")
--   MCPB_AUTHORIZATION     an Authorization header value to send (a gateway that wants one)
--   MCPB_CHECK             "1" adds a response() hook that checks every response's id and
--                          content against its request (slower: wrk then parses bodies)
-- done() prints one line "MCPB_RESULT {json}" with counts and latency percentiles (µs).

local sessions = {}
for sid in string.gmatch(os.getenv("MCPB_SESSIONS") or "", "[^,]+") do
  sessions[#sessions + 1] = sid
end
local version = os.getenv("MCPB_PROTOCOL_VERSION") or "2025-06-18"
local tool = os.getenv("MCPB_TOOL") or "echo"
local echo_name = os.getenv("MCPB_TOOL_NAME") or "echo"
local check = os.getenv("MCPB_CHECK") == "1"
local zones = { "UTC", "Europe/Paris", "Asia/Tokyo", "America/New_York" }
-- 2026-07-28: every request names its version and the client's capabilities
local envelope = ""
if version == "2026-07-28" then
  envelope = ',"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28",'
    .. '"io.modelcontextprotocol/clientCapabilities":{}}'
end

local threads = {}
local created = 0

function setup(thread)
  created = created + 1
  thread:set("index", created)
  thread:set("sid", sessions[((created - 1) % #sessions) + 1])
  table.insert(threads, thread)
end

function init(args)
  sent, checked, mismatches, bad_status = 0, 0, 0, 0
  pending = {}
  headers = {
    ["Content-Type"] = "application/json",
    ["Accept"] = "application/json, text/event-stream",
    ["MCP-Protocol-Version"] = version,
    ["Mcp-Session-Id"] = sid,
  }
  if sid == "-" then
    headers["Mcp-Session-Id"] = nil -- a stateless gateway issues no session
  end
  if version == "2026-07-28" then
    headers["Mcp-Method"] = "tools/call"
    headers["Mcp-Name"] = (tool == "echo") and echo_name or "get_current_time"
  end
  local authorization = os.getenv("MCPB_AUTHORIZATION")
  if authorization and authorization ~= "" then
    headers["Authorization"] = authorization
  end
end

-- The body of request number n and two strings, either of which its response must contain.
local function make(n)
  local id = index * 100000000 + n
  if tool == "echo" then
    local body = '{"jsonrpc":"2.0","id":' .. id
      .. ',"method":"tools/call","params":{"name":"' .. echo_name .. '","arguments":{"n":'
      .. id .. '}' .. envelope .. '}}'
    local want = '{\\"n\\":' .. id .. '}'
    return id, body, want, want
  end
  local zone = zones[(n % #zones) + 1]
  local body = '{"jsonrpc":"2.0","id":' .. id
    .. ',"method":"tools/call","params":{"name":"get_current_time","arguments":{"timezone":"'
    .. zone .. '"}' .. envelope .. '}}'
  return id, body, '"timezone":"' .. zone .. '"', '\\"timezone\\": \\"' .. zone .. '\\"'
end

function request()
  sent = sent + 1
  local id, body, want1, want2 = make(sent)
  if check then
    pending[id] = { want1, want2 }
  end
  return wrk.format("POST", nil, headers, body)
end

-- Responses are matched by the id they carry, not by order: wrk may build a request it
-- never sends (its first request() call), so order alone would misalign.
if check then
  function response(status, hdrs, body)
    checked = checked + 1
    local id = tonumber(string.match(body, '"id":(%d+)[,}]') or "")
    local want = id and pending[id]
    if id then
      pending[id] = nil
    end
    if status ~= 200 then
      bad_status = bad_status + 1
      mismatches = mismatches + 1
    elseif not want or not (string.find(body, want[1], 1, true) or string.find(body, want[2], 1, true)) then
      mismatches = mismatches + 1
      if mismatches <= 3 then
        io.stderr:write("mismatch: " .. string.sub(body, 1, 300) .. "\n")
      end
    end
  end
end

function done(summary, latency, requests)
  local checked_all, mismatched_all, bad_all = 0, 0, 0
  for _, t in ipairs(threads) do
    checked_all = checked_all + (t:get("checked") or 0)
    mismatched_all = mismatched_all + (t:get("mismatches") or 0)
    bad_all = bad_all + (t:get("bad_status") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'MCPB_RESULT {"requests":%d,"duration_us":%d,"errors":{"connect":%d,"read":%d,"write":%d,'
      .. '"status":%d,"timeout":%d},"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,'
      .. '"mean":%.1f},"checked":%d,"mismatches":%d,"bad_status":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean, checked_all, mismatched_all, bad_all))
end
