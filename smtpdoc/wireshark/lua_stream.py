"""Lua source: one TCP direction as a byte stream (a port of smtpdoc/reassembly.py) and line parsing.

Kept line for line with the Python originals; a difference here is a difference in the steps.
"""

STREAM = r"""
-- One direction of a TCP conversation, placed by sequence number (smtpdoc/reassembly.py).
local Stream = {}
Stream.__index = Stream

local function new_stream()
  return setmetatable({ next_seq = nil, buf = "", consumed = 0, spans = {}, head = 1, tail = 0,
                        pending = {}, npending = 0, gaps = {} }, Stream)
end

function Stream:start_at(seq)
  if self.next_seq == nil then self.next_seq = seq end
end

function Stream:len() return #self.buf end

function Stream:append(seq, payload, frame)
  local overlap = self.next_seq - seq
  if overlap >= #payload then return false end -- a pure retransmission
  local fresh = payload
  if overlap > 0 then fresh = payload:sub(overlap + 1) end
  self.buf = self.buf .. fresh
  self.next_seq = self.next_seq + #fresh
  self.tail = self.tail + 1
  self.spans[self.tail] = { stop = self.consumed + #self.buf, frame = frame }
  return true
end

function Stream:drain()
  local grew = false
  while self.npending > 0 and self.next_seq ~= nil do
    local ready = {}
    for seq in pairs(self.pending) do
      if seq <= self.next_seq then ready[#ready + 1] = seq end
    end
    if #ready == 0 then break end
    table.sort(ready)
    for _, seq in ipairs(ready) do
      local seg = self.pending[seq]
      self.pending[seq] = nil
      self.npending = self.npending - 1
      grew = self:append(seq, seg[1], seg[2]) or grew
    end
  end
  return grew
end

function Stream:skip_hole()
  if self.npending == 0 or self.next_seq == nil then return false end
  local low = nil
  for seq in pairs(self.pending) do
    if low == nil or seq < low then low = seq end
  end
  local seg = self.pending[low]
  self.pending[low] = nil
  self.npending = self.npending - 1
  self.gaps[#self.gaps + 1] = { frame = seg[2], size = low - self.next_seq, offset = self.consumed + #self.buf }
  self.next_seq = low
  self:append(low, seg[1], seg[2])
  self:drain()
  return true
end

-- Accept a segment; true when new bytes became readable.
function Stream:add(seq, payload, frame)
  if #payload == 0 then return false end
  if self.next_seq == nil then self.next_seq = seq end
  if seq > self.next_seq then
    if self.pending[seq] == nil then self.npending = self.npending + 1 end
    self.pending[seq] = { payload, frame }
    if self.npending > RULES.max_pending_segments then return self:skip_hole() end
    return false
  end
  local grew = self:append(seq, payload, frame)
  return self:drain() or grew
end

-- The peer acknowledged up to `ack`: a hole below it will never fill in this capture.
function Stream:acked(ack)
  if self.npending > 0 and self.next_seq ~= nil and ack > self.next_seq then return self:skip_hole() end
  return false
end

-- The first gap at or after the read position, if any.
function Stream:next_gap()
  for _, gap in ipairs(self.gaps) do
    if gap.offset >= self.consumed then return gap end
  end
  return nil
end

function Stream:find(needle, init)
  return string.find(self.buf, needle, init or 1, true)
end

-- Consume the first n buffered bytes: the bytes and the frames they came in.
function Stream:take(n)
  if n > #self.buf then n = #self.buf end
  local data = self.buf:sub(1, n)
  self.buf = self.buf:sub(n + 1)
  local start, stop = self.consumed, self.consumed + n
  local frames = {}
  for i = self.head, self.tail do
    local span = self.spans[i]
    if span.stop > start then
      if #frames == 0 or frames[#frames] ~= span.frame then frames[#frames + 1] = span.frame end
      if span.stop >= stop then break end
    end
  end
  self.consumed = stop
  while self.head <= self.tail and self.spans[self.head].stop <= stop do
    self.spans[self.head] = nil
    self.head = self.head + 1
  end
  return data, frames
end

-- The frame holding the first unread byte.
function Stream:peek_frame()
  for i = self.head, self.tail do
    if self.spans[i].stop > self.consumed then return self.spans[i].frame end
  end
  return nil
end

-- Line parsing (smtpdoc/smtp_text.py).
local function strip_crlf(s) return (s:gsub("[\r\n]+$", "")) end
local function strip_ws(s) return (s:gsub("^[ \t\r\n\v\f]+", ""):gsub("[ \t\r\n\v\f]+$", "")) end

-- "mail FROM:<a@b>" -> "MAIL", "FROM:<a@b>", true; nil for an empty line. The third value
-- says whether the first word looks like a verb (a line that does not is still a command).
local function parse_command(line)
  local stripped = strip_ws(line)
  if stripped == "" then return nil end
  local space = stripped:find(" ", 1, true)
  local head = space and stripped:sub(1, space - 1) or stripped
  local rest = space and stripped:sub(space + 1) or ""
  local well_formed = #head >= 2 and #head <= 16 and head:match("^[A-Za-z][A-Za-z0-9%-]*$") ~= nil
  return head:upper(), strip_ws(rest), well_formed
end

-- "250-SIZE 100" -> 250, false, "SIZE 100"; nil if the line is not a reply.
local function parse_reply_line(line)
  local code = line:match("^(%d%d%d)")
  if code == nil then return nil end
  local sep = line:sub(4, 4)
  local text
  if sep == "-" or sep == " " then text = line:sub(5) else text = line:sub(4) end
  return tonumber(code), sep ~= "-", strip_ws(text)
end

local function line_ending_problem(line)
  local body
  if line:sub(-2) == "\r\n" then body = line:sub(1, -3) else body = (line:gsub("\n+$", "")) end
  if line:sub(-1) == "\n" and line:sub(-2) ~= "\r\n" then return "bare LF" end
  if body:find("\r", 1, true) then return "bare CR" end
  return nil
end

-- "100 LAST" -> 100, true; a size that is not a number -> nil.
local function parse_bdat(argument)
  local parts = {}
  for word in argument:gmatch("%S+") do parts[#parts + 1] = word end
  local last = #parts > 1 and parts[2]:upper() == "LAST"
  if #parts == 0 or not parts[1]:match("^%d+$") then return nil, last end
  return tonumber(parts[1]), last
end
"""
