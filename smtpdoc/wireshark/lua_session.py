"""Lua source: the SMTP dialogue and the session machine (ports of dialogue.py and session.py).

Only what decides a frame's step (and the frame-local findings) is ported. A frame gets the
step of the first line or TLS record that uses it, exactly as `Session.frame_steps` does
(first assignment wins). See dissector/README.md for what the Lua cannot know.
"""

SESSION = r"""
-- Per-frame results: the step (first assignment wins), and what to show.
local step_of = {}   -- frame -> step
local guess_of = {}  -- frame -> step guessed for a line not yet complete (single pass only)
local info_of = {}   -- frame -> { stream, findings, extensions, commands, codes }
-- frame -> true: its step is an unknown command sent before any greeting. If the server then
-- does not speak SMTP the step is withdrawn (not_smtp_at_all), so a single pass, which prints
-- the frame before it can know, shows no step for it (dissector/README.md).
local provisional = {}

local function frame_info(n)
  local fi = info_of[n]
  if fi == nil then
    fi = { findings = {}, extensions = {}, commands = {}, codes = {} }
    info_of[n] = fi
  end
  return fi
end

local function assign(frames, step)
  for _, n in ipairs(frames) do
    if step_of[n] == nil then step_of[n] = step end
  end
end

local function new_step(name, frames, verb)
  local step = { name = name, verb = verb }
  assign(frames, step)
  return step
end

local function finding(s, name, frames)
  if FINDINGS[name] == nil then return end
  for _, n in ipairs(frames) do
    local list = frame_info(n).findings
    local dup = false
    for _, f in ipairs(list) do if f == name then dup = true end end
    if not dup then list[#list + 1] = name end
  end
end

local function check_line(s, data, frames, limit)
  if #data > limit then finding(s, "line_too_long", frames) end
  if line_ending_problem(data) then finding(s, "bare_line_ending", frames) end
end

local function check_text(s, data, frames)
  for line in (data .. "\n"):gmatch("([^\n]*)\n") do
    if #line + 1 > LIMITS.text then finding(s, "line_too_long", frames); break end
  end
  local stripped = data:gsub("\r\n", "")
  if stripped:find("[\r\n]") then finding(s, "bare_line_ending", frames) end
end

-- The SMTP dialogue over the cleartext part of a connection (smtpdoc/dialogue.py).
local function new_dialogue()
  return { client = new_stream(), server = new_stream(), mode = "command", pending = {},
           reply = {}, greeted = false, extensions = nil, commands = 0, bdat_left = 0,
           bdat_step = nil, data_step = nil, message_size = 0, auth_step = nil }
end

local start_tls

local function reply_complete(s, d)
  local lines = d.reply
  d.reply = {}
  local code = lines[#lines].code
  local frames, seen = {}, {}
  for _, line in ipairs(lines) do
    for _, n in ipairs(line.frames) do
      if not seen[n] then seen[n] = true; frames[#frames + 1] = n end
    end
  end
  local codes = frame_info(frames[1]).codes
  codes[#codes + 1] = code
  if code >= 400 then finding(s, "error_reply", frames) end
  local early = not d.greeted and RULES.greeting_codes[code] ~= nil
  if #d.pending == 0 or early then
    if not d.greeted then
      d.greeted = true
      s.greeting_code = code
      new_step("greeting", frames)
    else
      new_step(RULES.other_command_step, frames)
      finding(s, "unexpected_reply", frames)
    end
    return
  end
  local pending = table.remove(d.pending, 1)
  local verb = pending.verb
  if pending.reply_step ~= nil then
    new_step(pending.reply_step, frames)
  else
    assign(frames, pending.step)
  end
  if verb == "STARTTLS" then
    if code == RULES.starttls_go_ahead then start_tls(s, false) else finding(s, "starttls_refused", frames) end
  elseif verb == "DATA" then
    if code == RULES.data_go_ahead then d.mode = "data"; d.data_step = nil end
  elseif verb == "AUTH" then
    if code == RULES.auth_continue then
      table.insert(d.pending, 1, { verb = "AUTH", step = pending.step })
    else
      d.mode = "command"
    end
  end
end

local function read_replies(s, d)
  local progress = false
  while d.mode ~= "tls" do
    local stop = d.server:find("\n")
    if stop == nil then break end
    local data, frames = d.server:take(stop)
    progress = true
    check_line(s, data, frames, LIMITS.reply)
    local code, last, text = parse_reply_line(strip_crlf(data))
    if code == nil then
      if not s.not_smtp then finding(s, "not_smtp", frames) end
      s.not_smtp = true
    else
      d.reply[#d.reply + 1] = { code = code, frames = frames }
      local head = d.pending[1]
      if #d.reply > 1 and head ~= nil and (head.verb == "EHLO" or head.verb == "HELO") and text ~= "" then
        local exts = frame_info(frames[#frames]).extensions
        exts[#exts + 1] = text
      end
      if last then reply_complete(s, d) end
    end
  end
  return progress
end

local function command(s, d, data, frames)
  local line = strip_crlf(data)
  local verb, argument, well_formed = parse_command(line)
  if verb == nil then return end
  if not well_formed and d.commands == 0 then
    if not s.not_smtp then finding(s, "not_smtp", frames) end
    s.not_smtp = true
    return
  end
  d.commands = d.commands + 1
  local cmds = frame_info(frames[1]).commands
  cmds[#cmds + 1] = verb
  local name = RULES.command_steps[verb] or RULES.other_command_step
  local step = new_step(name, frames, verb)
  if name == RULES.other_command_step and not d.greeted and not s.tls_active then
    for _, n in ipairs(frames) do
      if step_of[n] == step then provisional[n] = true end
    end
  end
  local pending = { verb = verb, step = step, reply_step = RULES.reply_steps[verb] }
  if name == "ehlo" or name == "mail_from" then s.saw_ehlo_or_mail = true end
  if verb == "STARTTLS" then
    s.starttls_requested = true
    local peek = d.client:peek_frame()
    if d.client:len() > 0 and peek ~= nil then
      for _, n in ipairs(frames) do
        if n == peek then finding(s, "starttls_injection", frames); break end
      end
    end
  elseif verb == "AUTH" then
    d.auth_step = step
    d.mode = "auth"
    if not s.tls_active then finding(s, "auth_cleartext", frames) end
    pending.verb = "AUTH"
  elseif verb == "DATA" then
    if s.payload_seen.server == 0 then d.mode = "data" end
  elseif verb == "BDAT" then
    local size, last = parse_bdat(argument)
    d.pending[#d.pending + 1] = pending
    if size == nil then return end
    d.bdat_left = size
    d.bdat_step = step
    d.mode = "bdat"
    return
  end
  d.pending[#d.pending + 1] = pending
end

local function read_commands(s, d)
  local progress = false
  local gap = d.client:next_gap()
  if gap ~= nil and gap.size > 0 and gap.offset - d.client.consumed > 0
      and gap.offset - d.client.consumed <= d.client:len() then
    local stop = d.client:find("\n", gap.offset - d.client.consumed + 1)
    if stop ~= nil then
      d.client:take(stop) -- a line torn by missing bytes is not a command
      gap.size = 0
      progress = true
    end
  end
  while d.mode == "command" or d.mode == "auth" do
    local stop = d.client:find("\n")
    if stop == nil then break end
    local data, frames = d.client:take(stop)
    progress = true
    check_line(s, data, frames, LIMITS.command)
    if d.mode == "auth" then
      if d.auth_step ~= nil then assign(frames, d.auth_step) end
    else
      command(s, d, data, frames)
      if d.mode == "bdat" or d.mode == "tls" then break end
    end
  end
  return progress
end

local function message_bytes(s, d, data, frames, text)
  if d.data_step == nil then d.data_step = new_step("message", frames) else assign(frames, d.data_step) end
  d.message_size = d.message_size + #text
  check_text(s, text, frames)
end

local function message_end(d)
  local step = d.data_step
  d.message_size = 0
  d.data_step = nil
  d.mode = "command"
  d.pending[#d.pending + 1] = { verb = ".", step = step }
end

local function read_data(s, d)
  local size = d.client:len()
  if size == 0 then return false end
  local stop = d.client:find("\r\n.\r\n")
  if d.message_size == 0 and d.client.buf:sub(1, 3) == ".\r\n" then
    local data, frames = d.client:take(3)
    message_bytes(s, d, data, frames, "")
    message_end(d)
    return true
  end
  if stop == nil then
    -- Whole lines only (Python: buffer.rfind(b"\n", 0, len - 4) + 1, slice rules included).
    local limit = size - 4
    if limit < 0 then limit = math.max(0, size + limit) end
    local cut = 0
    local window = d.client.buf:sub(1, limit)
    for i = #window, 1, -1 do
      if window:byte(i) == 10 then cut = i; break end
    end
    if cut <= 0 then
      if size <= LIMITS.text * 64 then return false end
      cut = size - 4
    end
    local data, frames = d.client:take(cut)
    message_bytes(s, d, data, frames, data)
    return true
  end
  local data, frames = d.client:take(stop + 4)
  message_bytes(s, d, data, frames, data:sub(1, stop + 1))
  message_end(d)
  return true
end

local function read_bdat(s, d)
  local gap = d.client:next_gap()
  if gap ~= nil and gap.offset == d.client.consumed then
    -- The chunk's bytes went missing from the capture: count them as sent.
    local lost = math.min(gap.size, d.bdat_left)
    d.bdat_left = d.bdat_left - lost
    gap.offset = gap.offset + lost
    gap.size = gap.size - lost
    if d.bdat_left == 0 then d.mode = "command"; return true end
  end
  if d.bdat_left > 0 and d.client:len() == 0 then return false end
  local want = d.bdat_left
  if gap ~= nil and gap.size > 0 then want = math.min(want, gap.offset - d.client.consumed) end
  local data, frames = d.client:take(want)
  d.bdat_left = d.bdat_left - #data
  if d.bdat_step ~= nil and #frames > 0 then assign(frames, d.bdat_step) end
  if d.bdat_left == 0 then d.mode = "command" end
  return true
end

local CLIENT_READERS = { command = read_commands, auth = read_commands, data = read_data, bdat = read_bdat }

local function pump(s, d)
  local progress = true
  while progress and d.mode ~= "tls" do
    progress = read_replies(s, d)
    if d.mode == "tls" then break end
    progress = CLIENT_READERS[d.mode](s, d) or progress
  end
end

-- What the bytes still waiting in the current frame will most likely become (single pass).
local function guess(s, d, side)
  if d.mode == "tls" then return nil end
  if side == "server" then
    if d.server:len() == 0 then return nil end
    local head = d.pending[1]
    if head == nil then
      return { name = d.greeted and RULES.other_command_step or "greeting" }
    end
    if head.reply_step ~= nil then return { name = head.reply_step } end
    return head.step
  end
  if d.client:len() == 0 then return nil end
  if d.mode == "auth" then return d.auth_step end
  if d.mode == "data" then return d.data_step or { name = "message" } end
  local head = d.client.buf:match("^[ \t]*([A-Za-z][A-Za-z0-9%-]*)")
  if head == nil then return nil end
  head = head:upper()
  local found = nil
  for verb, name in pairs(RULES.command_steps) do
    if verb:sub(1, #head) == head then
      if found ~= nil and found ~= name then return { name = RULES.other_command_step, verb = head } end
      found = name
    end
  end
  if found == nil and not d.greeted then return nil end -- provisional: not guessed either
  return { name = found or RULES.other_command_step, verb = head }
end
"""
