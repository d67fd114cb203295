"""Lua source: the TCP/TLS side of the session machine and the demultiplexer (session.py)."""

MACHINE = r"""
local TLS12, TLS13 = 0x0303, 0x0304
local CCS, ALERT, HANDSHAKE, APPDATA = 20, 21, 22, 23

local function has(flags, bit_value) return math.floor(flags / bit_value) % 2 == 1 end

local function new_session(stream)
  return { stream = stream, started = false, client = nil, outer = new_dialogue(),
           hs = {}, hs_step = nil, close_step = nil, tls = nil, tls_active = false,
           starttls_requested = false, fins = {}, nfins = 0, reset = false,
           payload_seen = { client = 0, server = 0 }, gaps_seen = 0, not_smtp = false,
           greeting_code = nil, saw_ehlo_or_mail = false, finished = false, frames = {},
           not_smtp_at_all = false }
end

function start_tls(s, implicit)
  s.tls = { version = nil, ccs = {}, finished = {}, nfinished = 0, established = false,
            handshake = nil, encrypted = nil }
  s.tls_active = true
  s.outer.mode = "tls"
end

local function start(s, p)
  s.started = true
  local ports = RULES.smtp_ports
  local client
  if p.syn and not p.ack then client = { p.src, p.sport }
  elseif p.syn and p.ack then client = { p.dst, p.dport }
  elseif ports[p.dport] and not ports[p.sport] then client = { p.src, p.sport }
  elseif ports[p.sport] and not ports[p.dport] then client = { p.dst, p.dport }
  elseif p.payload:match("^%d%d%d") then client = { p.dst, p.dport } -- the server speaks first
  else client = { p.src, p.sport } end
  s.client = client[1] .. "|" .. client[2]
  if s.client == p.src .. "|" .. p.sport then
    s.client_port, s.server_port = p.sport, p.dport
  else
    s.client_port, s.server_port = p.dport, p.sport
  end
end

local function tcp_flags(s, p, side)
  local hs = s.hs
  local handshake = false
  if p.syn and not p.ack and not hs.syn then hs.syn = true; handshake = true
  elseif p.syn and p.ack and not hs.synack then hs.synack = true; handshake = true
  elseif side == "client" and hs.synack and not hs.ack and p.ack and not (p.syn or p.fin or p.rst)
      and #p.payload == 0 then
    hs.ack = true; handshake = true
  end
  if handshake then
    if s.hs_step == nil then
      s.hs_step = new_step("tcp_handshake", { p.number })
    else
      assign({ p.number }, s.hs_step)
    end
  end
  if p.fin or p.rst then
    if p.fin and not s.fins[side] then s.fins[side] = true; s.nfins = s.nfins + 1 end
    if p.rst then s.reset = true end
    if s.close_step == nil then
      s.close_step = new_step("close", { p.number })
    else
      assign({ p.number }, s.close_step)
    end
  end
end

local function established(tls) tls.established = true end

local function phase(s, side, ctype)
  local tls = s.tls
  if tls.established then
    if ctype == HANDSHAKE then return "tls_handshake" end
    return "encrypted"
  end
  if ctype == CCS then
    tls.ccs[side] = true
  elseif ctype == HANDSHAKE and tls.ccs[side] then
    if not tls.finished[side] then tls.finished[side] = true; tls.nfinished = tls.nfinished + 1 end
  elseif ctype == APPDATA then
    if tls.version == TLS13 then
      if side == "client" then
        if not tls.finished[side] then tls.finished[side] = true; tls.nfinished = tls.nfinished + 1 end
        established(tls)
      end
      return "tls_handshake"
    end
    established(tls)
    return "encrypted"
  elseif ctype == ALERT then
    return "tls_handshake"
  end
  if tls.nfinished == 2 then established(tls) end
  return "tls_handshake"
end

local function tls_step(s, name, n)
  local tls = s.tls
  local current
  if name == "tls_handshake" then current = tls.handshake else current = tls.encrypted end
  if current == nil then
    current = new_step(name, { n })
    if name == "tls_handshake" then tls.handshake = current else tls.encrypted = current end
  else
    assign({ n }, current)
  end
end

local function tls_packet(s, p, side, already_added)
  local tls = s.tls
  if #p.payload > 0 and already_added then
    local st = side == "client" and s.outer.client or s.outer.server
    st:take(st:len())
  end
  if p.server_hello ~= nil then
    tls.version = p.server_hello
    if p.server_hello < TLS12 then finding(s, "tls_old_version", { p.number }) end
  end
  for _, alert in ipairs(p.alerts) do
    if alert ~= 0 then finding(s, "tls_alert", { p.number }) end
  end
  for _, ctype in ipairs(p.records) do
    tls_step(s, phase(s, side, ctype), p.number)
  end
  if #p.payload > 0 and #p.records == 0 and step_of[p.number] == nil then
    local current
    if tls.established then current = tls.encrypted else current = tls.handshake end
    if current ~= nil then
      assign({ p.number }, current)
    elseif tls.handshake == nil and not p.tls_layer then
      tls_step(s, "tls_handshake", p.number)
    end
  end
end

local function looks_like_tls(s, p)
  if s.outer.greeted or s.outer.commands > 0 then return false end
  if #p.records > 0 or p.tls_layer then return true end
  return RULES.implicit_tls_ports[s.server_port] ~= nil and p.payload:byte(1) == 0x16
end

local function report_gaps(s)
  local gaps = {}
  for _, g in ipairs(s.outer.client.gaps) do gaps[#gaps + 1] = g end
  for _, g in ipairs(s.outer.server.gaps) do gaps[#gaps + 1] = g end
  for i = s.gaps_seen + 1, #gaps do finding(s, "data_gap", { gaps[i].frame }) end
  s.gaps_seen = #gaps
end

local function feed(s, p)
  if not s.started then start(s, p) end
  s.frames[#s.frames + 1] = p.number
  local side = "server"
  if p.src .. "|" .. p.sport == s.client then side = "client" end
  tcp_flags(s, p, side)
  if #p.payload > 0 then s.payload_seen[side] = s.payload_seen[side] + 1 end
  if s.tls ~= nil then
    tls_packet(s, p, side, false)
  elseif #p.payload > 0 or p.ack then
    local peer = side == "client" and s.outer.server or s.outer.client
    if p.ack and peer:acked(p.ack_number) then pump(s, s.outer) end
    local st = side == "client" and s.outer.client or s.outer.server
    if p.syn then st:start_at(p.seq + 1) end
    if st:add(p.seq, p.payload, p.number) then
      if looks_like_tls(s, p) then
        start_tls(s, true)
        tls_packet(s, p, side, true)
      else
        pump(s, s.outer)
        if s.tls ~= nil then
          s.outer.client:take(s.outer.client:len())
          s.outer.server:take(s.outer.server:len())
        end
      end
    end
    report_gaps(s)
  end
  if step_of[p.number] == nil and s.tls == nil and #p.payload > 0 then
    local st = side == "client" and s.outer.client or s.outer.server
    local last = st.spans[st.tail]
    if last ~= nil and last.frame == p.number then guess_of[p.number] = guess(s, s.outer, side) end
  end
end

-- The server never greeted and spoke something else (SessionMachine._not_smtp_at_all): only
-- the TCP set-up and close keep their steps, only not_smtp stays of the findings.
local KEPT_STEPS = { tcp_handshake = true, close = true }

local function not_smtp_at_all(s)
  s.not_smtp_at_all = true
  for _, n in ipairs(s.frames) do
    local step = step_of[n]
    if step ~= nil and not KEPT_STEPS[step.name] then step_of[n] = nil end
    guess_of[n] = nil
    local fi = info_of[n]
    if fi ~= nil then
      local kept = {}
      for _, name in ipairs(fi.findings) do
        if name == "not_smtp" then kept[#kept + 1] = name end
      end
      fi.findings, fi.extensions, fi.commands, fi.codes = kept, {}, {}, {}
    end
  end
end

-- The stream ended: give up on holes and read what is left (SessionMachine.finish).
local function finish(s)
  s.finished = true
  for _, st in ipairs({ s.outer.client, s.outer.server }) do
    while st:skip_hole() do end
  end
  pump(s, s.outer)
  report_gaps(s)
  if s.not_smtp and not s.outer.greeted and s.tls == nil then not_smtp_at_all(s) end
end

-- Is this stream an SMTP session at all (session.is_smtp)?
local function is_smtp(s)
  if RULES.smtp_ports[s.server_port] or RULES.smtp_ports[s.client_port] then return true end
  if s.greeting_code == RULES.greeting_code then return true end
  return s.saw_ehlo_or_mail and not s.not_smtp
end

local sessions = {}
local closed_streams = {}
local finished_all = false

local function demux(stream, p)
  local s = sessions[stream]
  if s == nil then
    if closed_streams[stream] then return end
    s = new_session(stream)
    sessions[stream] = s
  end
  if s.finished then return end
  feed(s, p)
  local closed = s.reset or s.nfins == 2
  if closed and (s.reset or (s.nfins == 2 and s.outer.mode ~= "data")) then
    finish(s)
    closed_streams[stream] = true
  end
end

local function finish_all()
  finished_all = true
  for _, s in pairs(sessions) do
    if not s.finished then finish(s) end
  end
end

local function reset_state()
  step_of, guess_of, info_of, provisional = {}, {}, {}, {}
  sessions, closed_streams, finished_all = {}, {}, false
end
"""
