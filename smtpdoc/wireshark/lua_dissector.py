"""Lua source: reading a frame's fields, the post-dissector itself, and its subtree."""

DISSECTOR = r"""
local proto = Proto("smtpdoc", "SMTP walkthrough (smtpdoc)")
local step_titles = {}
for number, step in ipairs(STEPS) do step_titles[number] = step.title end
local pf = {
  step = ProtoField.uint8("smtpdoc.step", "Step", base.DEC, step_titles),
  step_name = ProtoField.string("smtpdoc.step_name", "Step name"),
  step_id = ProtoField.string("smtpdoc.step_id", "Step id"),
  explain = ProtoField.string("smtpdoc.explain", "Explanation"),
  extension = ProtoField.string("smtpdoc.extension", "Extension"),
  finding = ProtoField.string("smtpdoc.finding", "Finding"),
  command = ProtoField.string("smtpdoc.command", "SMTP command"),
  reply_code = ProtoField.uint16("smtpdoc.reply_code", "Reply code"),
  guessed = ProtoField.bool("smtpdoc.guessed", "Step guessed before its line was complete"),
}
proto.fields = { pf.step, pf.step_name, pf.step_id, pf.explain, pf.extension, pf.finding,
                 pf.command, pf.reply_code, pf.guessed }

local f = {}
for _, name in ipairs({ "tcp.stream", "tcp.srcport", "tcp.dstport", "tcp.flags", "tcp.seq", "tcp.ack",
                        "tcp.len", "tcp.payload", "tls", "tls.record", "tls.handshake.type",
                        "tls.handshake.version", "tls.handshake.extensions.supported_version",
                        "tls.alert_message.level", "tls.alert_message.desc" }) do
  f[name] = Field.new(name)
end

local function values(name)
  local out = {}
  for i, fi in ipairs({ f[name]() }) do out[i] = fi.value end
  return out
end

-- The frame as the session machine sees it (smtpdoc/pdml.py), or nil when pdml.py's
-- display filter would drop it (pure ACKs other than the handshake's).
local function read_packet(pinfo)
  local flags = values("tcp.flags")[1] or 0
  local p = { number = pinfo.number, src = tostring(pinfo.net_src), dst = tostring(pinfo.net_dst),
              sport = values("tcp.srcport")[1] or 0, dport = values("tcp.dstport")[1] or 0,
              seq = values("tcp.seq")[1] or 0, ack_number = values("tcp.ack")[1] or 0,
              syn = has(flags, 2), ack = has(flags, 16),
              fin = has(flags, 1), rst = has(flags, 4), payload = "", records = {}, alerts = {} }
  local tcp_len = values("tcp.len")[1] or 0
  if not (tcp_len > 0 or p.syn or p.fin or p.rst or (p.seq == 1 and p.ack_number == 1)) then
    return nil
  end
  local payloads = { f["tcp.payload"]() }
  if #payloads > 0 then p.payload = payloads[#payloads].range:raw() end
  p.tls_layer = f["tls"]() ~= nil
  for _, fi in ipairs({ f["tls.record"]() }) do
    local ok, ctype = pcall(function() return fi.range:range(0, 1):uint() end)
    if ok then p.records[#p.records + 1] = ctype end
  end
  for _, htype in ipairs(values("tls.handshake.type")) do
    if htype == 2 then
      p.server_hello = values("tls.handshake.extensions.supported_version")[1] or values("tls.handshake.version")[1]
    end
  end
  local levels, descs = values("tls.alert_message.level"), values("tls.alert_message.desc")
  for i, level in ipairs(levels) do
    if level ~= 0 and descs[i] ~= nil then p.alerts[#p.alerts + 1] = descs[i] end
  end
  return p
end

local function extension_meaning(line)
  local keyword = (line:match("^(%S+)") or ""):upper()
  local meaning = EXTENSIONS[keyword]
  if meaning == nil and keyword:find("=", 1, true) then meaning = EXTENSION_PREFIXES[keyword:match("^([^=]*)")] end
  if meaning == nil and keyword:sub(1, 5) == "AUTH=" then meaning = EXTENSIONS["AUTH=LOGIN"] end
  if meaning == nil then
    local template = keyword:sub(1, 1) == "X" and EXTENSION_PRIVATE or EXTENSION_UNKNOWN
    local shown = keyword ~= "" and keyword or "(empty)"
    meaning = template:gsub("{keyword}", (shown:gsub("%%", "%%%%")))
  end
  return meaning
end

local function explanation(step)
  if step.name == RULES.other_command_step and step.verb ~= nil and step.verb ~= "" then
    local command = COMMANDS[step.verb]
    if command == nil then
      local verb = step.verb:gsub("%%", "%%%%")
      return (UNKNOWN_COMMAND.title:gsub("XVERBX", verb)) .. ": " .. (UNKNOWN_COMMAND.explanation:gsub("XVERBX", verb))
    end
    return command.title .. ": " .. command.explanation
  end
  return STEPS[STEP_NUMBER[step.name]].explanation
end

local function show(tvb, tree, n, guessing, s)
  local step = step_of[n]
  local guessed = false
  -- Single pass only: what may still be withdrawn is held back. An unknown command before any
  -- greeting, and anything but the TCP set-up and close of a connection that has so far spoken
  -- no SMTP (not_smtp_at_all would withdraw it at the end).
  local doubtful = guessing and s.not_smtp and not s.outer.greeted and s.tls == nil
  local held = guessing and (doubtful or provisional[n] == true)
  if held and step ~= nil and not (doubtful and KEPT_STEPS[step.name]) then step = nil end
  if step == nil and guessing and not held then step = guess_of[n]; guessed = step ~= nil end
  local sub = tree:add(proto, tvb(0, 0))
  if step == nil then
    if s.not_smtp_at_all or doubtful then
      sub:set_text("SMTP walkthrough: no step (this connection does not speak SMTP;"
                   .. " only its TCP set-up and close are explained)")
    elseif held then
      sub:set_text("SMTP walkthrough: no step yet (an unknown command before any greeting;"
                   .. " two passes show it once the server is known to speak SMTP)")
    else
      sub:set_text("SMTP walkthrough: no step (this frame carries no SMTP line or TLS record)")
    end
  else
    local number = STEP_NUMBER[step.name]
    local title = STEPS[number].title
    sub:set_text(string.format("SMTP walkthrough: step %d of %d, %s", number, #STEPS, title))
    sub:add(pf.step, number)
    sub:add(pf.step_name, title)
    sub:add(pf.step_id, step.name)
    sub:add(pf.explain, explanation(step))
    if guessed then sub:add(pf.guessed, true) end
  end
  local info = info_of[n]
  if info == nil then return end
  if not held then
    for _, verb in ipairs(info.commands) do sub:add(pf.command, verb) end
    for _, code in ipairs(info.codes) do sub:add(pf.reply_code, code) end
    for _, line in ipairs(info.extensions) do
      sub:add(pf.extension, line):set_text("Extension: " .. line .. ": " .. extension_meaning(line))
    end
  end
  for _, name in ipairs(info.findings) do
    if not doubtful or name == "not_smtp" then
      local found = FINDINGS[name]
      local item = sub:add(pf.finding, name)
      item:set_text(string.format("Finding (%s): %s", found.severity, found.title))
      item:add(pf.explain, found.explanation)
    end
  end
end

function proto.init()
  reset_state()
end

function proto.dissector(tvb, pinfo, tree)
  local stream = values("tcp.stream")[1]
  if stream == nil then return end
  local n = pinfo.number
  if not pinfo.visited then
    if info_of[n] == nil then
      frame_info(n)
      local p = read_packet(pinfo)
      if p ~= nil then demux(stream, p) end
    end
  elseif not finished_all then
    finish_all() -- the first pass is over: settle what each stream left pending
  end
  local s = sessions[stream]
  if s == nil or not is_smtp(s) then return end
  show(tvb, tree, n, not pinfo.visited, s)
end

register_postdissector(proto)
"""
