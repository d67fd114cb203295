"""The fixed part of dissector/smtpdoc.lua: read smtpdoc's data comments, show them.

It derives nothing: the steps, their positions and the findings come from the data token
`smtpdoc annotate` wrote (smtpdoc/annotate.py documents it); the words come from the
catalog tables generated in front of this text and from the frame's own smtpdoc comment.
Lua 5.2 and 5.4 alike: no bit operators, no `//`, no `goto`, no utf8 library.
"""

READER = r"""
local proto = Proto("smtpdoc", "SMTP walkthrough (smtpdoc)")
local pf = {
  session = ProtoField.uint32("smtpdoc.session", "Session"),
  step = ProtoField.uint16("smtpdoc.step", "Step"),
  step_id = ProtoField.string("smtpdoc.step_id", "Step id"),
  step_name = ProtoField.string("smtpdoc.step_name", "Step name"),
  finding = ProtoField.string("smtpdoc.finding", "Finding"),
  severity = ProtoField.string("smtpdoc.severity", "Severity"),
  explanation = ProtoField.none("smtpdoc.explanation", "Explanation"),
  explain = ProtoField.string("smtpdoc.explain", "Explanation line"),
  comment = ProtoField.string("smtpdoc.comment", "Comment"),
  data = ProtoField.string("smtpdoc.data", "smtpdoc data"),
}
proto.fields = { pf.session, pf.step, pf.step_id, pf.step_name, pf.finding, pf.severity, pf.explanation,
                 pf.explain, pf.comment, pf.data }
local LEVELS = { critical = expert.severity.ERROR, warning = expert.severity.WARN,
                 notice = expert.severity.NOTE, info = expert.severity.CHAT }
local experts, expert_list = {}, {}
for _, severity in ipairs({ "critical", "warning", "notice", "info" }) do
  experts[severity] = ProtoExpert.new("smtpdoc.finding." .. severity, "smtpdoc finding (" .. severity .. ")",
                                      expert.group.PROTOCOL, LEVELS[severity])
  expert_list[#expert_list + 1] = experts[severity]
end
proto.experts = expert_list
proto.prefs.enabled = Pref.bool("Show smtpdoc annotations", false,
  "Read the comments written by smtpdoc annotate (the smtpdoc profile turns this on)")
local comment_field = Field.new("frame.comment")

-- "<preamble> smtpdoc-data/1 s=1 p=5.mail_from,6.rcpt_to f=warning.error_reply" → a table;
-- anything cut, unknown or out of range is left out, never an error.
-- The version is the digits after the mark, up to a space or the end: "1x" or "1.0" is no version.
local function parse(text)
  local at = text:find(DATA_MARK, 1, true)
  if at == nil then return { version = "?" } end
  local version, rest = text:match("^(%d+)(.*)$", at + #DATA_MARK)
  if version == nil or (rest ~= "" and rest:sub(1, 1) ~= " ") then version = "?" end
  local data = { version = version, steps = {}, findings = {} }
  if version ~= DATA_VERSION then return data end
  for key, value in rest:gmatch(" (%a)=(%S+)") do
    if key == "s" and #value <= 9 then
      data.session = tonumber(value:match("^%d+$") or "")
    elseif key == "p" then
      for item in value:gmatch("[^,]+") do
        local position, name = item:match("^(%d+)%.([%w_]+)$")
        local n = position and #position <= 5 and tonumber(position)
        if n and n >= 1 and n <= 65535 then data.steps[#data.steps + 1] = { position = n, name = name } end
      end
    elseif key == "f" then
      for item in value:gmatch("[^,]+") do
        local severity, name = item:match("^(%a+)%.([%w_]+)$")
        if name then data.findings[#data.findings + 1] = { severity = severity, name = name } end
      end
    end
  end
  return data
end

-- The length of the longest start of `text` that has at most `limit` bytes and does not end
-- inside a UTF-8 character (a character has at most 3 continuation bytes: text that is not
-- UTF-8 is cut at `limit`, so a cut never goes back more than 3 bytes).
local function cut_at(text, limit)
  if #text <= limit then return #text end
  local cut = limit
  while cut > limit - 3 and text:byte(cut + 1) >= 128 and text:byte(cut + 1) < 192 do cut = cut - 1 end
  if text:byte(cut + 1) >= 128 and text:byte(cut + 1) < 192 then return limit end
  return cut
end

-- `text` in at most `limit` bytes, "..." at the end when it had to be cut.
local function short(text, limit)
  if #text <= limit then return text end
  return text:sub(1, cut_at(text, limit - 3)) .. "..."
end

-- Full lines of at most LINE bytes (Wireshark cuts a label at 240), split between words;
-- a word longer than a line is cut between two UTF-8 characters.
local function lines(text)
  local out, line = {}, ""
  for word in text:gmatch("%S+") do
    while #word > LINE do
      local cut = cut_at(word, LINE)
      if line ~= "" then out[#out + 1] = line; line = "" end
      out[#out + 1] = word:sub(1, cut)
      word = word:sub(cut + 1)
    end
    if line == "" then
      line = word
    elseif #line + 1 + #word > LINE then
      out[#out + 1] = line
      line = word
    else
      line = line .. " " .. word
    end
  end
  if line ~= "" then out[#out + 1] = line end
  return out
end

local function is_words(text)
  return text:sub(1, #WORDS_STEP) == WORDS_STEP or text:sub(1, #WORDS_FINDING) == WORDS_FINDING
end

-- "smtpdoc step 5 mail_from (inside TLS): ..." → "Step 5: ...", "smtpdoc finding warning x: ..." →
-- "Finding (warning): ...". Found without backtracking: the words may be 65,000 bytes long.
local function headed(part)
  local position, after = part:match("^smtpdoc step (%d+) [%w_]+()")
  if position ~= nil then
    local colon = part:find(": ", after, true)
    if colon ~= nil and colon - after <= NAME and not part:sub(after, colon - 1):find(":", 1, true) then
      return "Step " .. position .. ": " .. part:sub(colon + 2)
    end
    return part
  end
  local severity, rest = part:match("^smtpdoc finding (%a+) [%w_]+: ()")
  if severity ~= nil then return "Finding (" .. severity .. "): " .. part:sub(rest) end
  return part
end

local function show(tree, data, words)
  local root = tree:add(proto)
  local heads = {}
  if data.version ~= DATA_VERSION then
    root:add(pf.data, short(data.version, NAME)):set_text("smtpdoc data of version " .. short(data.version, NAME)
      .. "; this plugin reads version " .. DATA_VERSION .. " (annotate the capture again with this smtpdoc)")
  end
  if data.session ~= nil then root:add(pf.session, data.session) end
  for _, step in ipairs(data.steps or {}) do
    local title = STEP_TITLES[step.name]
    local item = root:add(pf.step, step.position)
    local shown = title or (short(step.name, NAME) .. " (a step this plugin does not know)")
    item:set_text(string.format("Step %d: %s", step.position, shown))
    item:add(pf.step_id, step.name)
    item:add(pf.step_name, title or step.name)
    heads[#heads + 1] = string.format("step %d %s", step.position, title or short(step.name, NAME))
  end
  for _, found in ipairs(data.findings or {}) do
    local title = FINDING_TITLES[found.name] or short(found.name, NAME)
    local severity = short(found.severity, NAME)
    local item = root:add(pf.finding, found.name)
    item:set_text(string.format("Finding (%s): %s", severity, title))
    item:add(pf.severity, found.severity)
    item:add_proto_expert_info(experts[found.severity] or experts.notice, title .. " (" .. severity .. ")")
    heads[#heads + 1] = severity .. " finding"
  end
  local head = "SMTP walkthrough (smtpdoc): " .. (#heads > 0 and table.concat(heads, "; ") or "no step")
  root:set_text(short(head, 200))
  for _, text in ipairs(words) do
    if is_words(text) then
      local explanation = root:add(pf.explanation)
      for part in (text .. " | "):gmatch("(.-) | ") do
        for _, line in ipairs(lines(headed(part))) do explanation:add(pf.explain, line):set_text(line) end
      end
    end
  end
end

function proto.dissector(tvb, pinfo, tree)
  if not proto.prefs.enabled or comment_field() == nil then return end
  local found = { comment_field() }
  local words, data = {}, nil
  for _, fi in ipairs(found) do
    local text = fi.value
    if type(text) == "string" then
      if text:sub(1, #DATA_START) == DATA_START then
        data = data or parse(text)
      else
        words[#words + 1] = text
        tree:add(pf.comment, text):set_hidden()
      end
    end
  end
  if data ~= nil then show(tree, data, words) end
end

register_postdissector(proto)
"""
