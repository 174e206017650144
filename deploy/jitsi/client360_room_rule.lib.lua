-- client360: which Jitsi rooms are client meetings, and the Bitrix24 lead id in the room name.
--
-- The same rule as assets/meetings/discovery.py::lead_id_from_room (regex ^<prefix>[-_.]?(\d+)(?:[-_.].*)?$,
-- case-insensitive, name stripped first; the digits a lead id: at most 12, not all zeros):
-- "client-12345", "client_12345_anything", "Client12345" -> "12345".
-- Case is ignored for Latin letters only (Jitsi lowercases room names anyway: keep a non-Latin prefix lowercase).
-- Plain Lua 5.1-5.4, no Prosody API: mod_client360_autostart loads it with module:require("client360_room_rule"),
-- tests with dofile().

local M = {}

-- Lead id (a string of digits) for a room name, or nil.
function M.lead_id(name, prefix)
    if type(name) ~= "string" or type(prefix) ~= "string" then
        return nil
    end
    name = name:match("^%s*(.-)%s*$")
    if name:find("\n", 1, true) then
        return nil -- Python's '.' stops at a newline, so such a name never matches there
    end
    if name:sub(1, #prefix):lower() ~= prefix:lower() then
        return nil
    end
    local rest = name:sub(#prefix + 1)
    rest = rest:match("^[-_.](.*)$") or rest
    local digits, tail = rest:match("^(%d+)(.*)$")
    -- a lead id is at most 12 digits and not all zeros (warehouse/aliases.py::is_lead_id): longer is no client
    if digits and #digits <= 12 and digits:find("[1-9]") and (tail == "" or tail:find("^[-_.]")) then
        return digits
    end
    return nil
end

-- The room name inside a MUC room JID's node: without a multi-tenant "[tenant]" prefix and with the
-- percent-encoding Jitsi applies to room names (it lowercases and URL-encodes them) undone.
function M.room_name(node)
    if type(node) ~= "string" then
        return nil
    end
    node = node:gsub("^%[[^%]]*%]", "", 1)
    node = node:gsub("%%(%x%x)", function(hex) return string.char(tonumber(hex, 16)) end)
    return node
end

-- Lead id for a room JID such as "client-12345@conference.meet.example.ru" or "[tenant]client-12345@…".
function M.lead_id_from_jid(room_jid, prefix)
    local node = type(room_jid) == "string" and room_jid:match("^([^@/]+)@")
    return node and M.lead_id(M.room_name(node), prefix) or nil
end

return M
