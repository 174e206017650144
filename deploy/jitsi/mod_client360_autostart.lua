-- client360: record client meetings automatically.
--
-- In a room whose name carries a Bitrix24 lead id (client360_room_rule.lib.lua: "client-12345…"), as soon as a
-- moderator is in the room this module asks jicofo to start a Jibri recording to a file, exactly as the "Start
-- recording" button does: a <jibri action='start' recording_mode='file'/> IQ to the room's focus occupant, sent in the
-- moderator's name. Other rooms are left alone. One request per room; a later meeting in a new room is recorded again.
--
-- Written for client360 after reading jitsi-contrib/prosody-plugins jibri_autostart/mod_jibri_autostart.lua (the IQ,
-- the delayed moderator check) and jitsi/jicofo jicofo/src/main/kotlin/org/jitsi/jicofo/jibri/BaseJibri.kt (jicofo takes
-- the IQ only from a moderator occupant of that room whom it already knows, and one recording per room).
--
-- Enable on the MUC component, Component "conference.<domain>" "muc": modules_enabled = { …, "client360_autostart" }.
-- Settings (that section or the global one):
--   client360_room_prefix = "client"   -- default: environment variable C360_ROOM_PREFIX, else "client"
--   client360_autostart_delay = 3      -- seconds between a moderator appearing and the request

local st = require "util.stanza";
local timer = require "util.timer";
local uuid = require "util.uuid".generate;
local rule = module:require "client360_room_rule";

local env_prefix = os.getenv("C360_ROOM_PREFIX"); -- empty counts as unset, as in client360's own settings
local prefix = module:get_option_string("client360_room_prefix", env_prefix ~= "" and env_prefix or "client");
local delay = module:get_option_number("client360_autostart_delay", 3);

local JIBRI_XMLNS = "http://jitsi.org/protocol/jibri";
-- Jitsi's own components: they may hold the moderator role but must not start a recording.
local SERVICE_USERS = { focus = true, recorder = true, jibri = true, transcriber = true, jigasi = true, jvb = true };

local function lead_of(room)
    local lead = room._client360_lead;
    if lead == nil then
        lead = rule.lead_id_from_jid(room.jid, prefix) or false;
        room._client360_lead = lead;
    end
    return lead or nil;
end

local function is_service(occupant)
    local resource = occupant.nick and occupant.nick:match("/(.+)$");
    local user = occupant.bare_jid and occupant.bare_jid:match("^([^@]+)@");
    return resource == "focus" or (user ~= nil and SERVICE_USERS[user:lower()] == true);
end

-- The same decision as the recording button: a token's features, when present, must allow recording.
local function may_record(occupant)
    if occupant.role ~= "moderator" or not occupant.jid or is_service(occupant) then
        return false;
    end
    local sessions = prosody and prosody.full_sessions;
    local session = sessions and sessions[occupant.jid];
    local features = session and (session.jitsi_meet_context_features or session.granted_jitsi_meet_context_features);
    if features then
        return features.recording == true or features.recording == "true";
    end
    return true;
end

local function send_start(room, lead, occupant)
    local iq = st.iq({ type = "set", id = uuid(), from = occupant.jid, to = room.jid .. "/focus" })
        :tag("jibri", {
            xmlns = JIBRI_XMLNS;
            action = "start";
            recording_mode = "file";
            -- Jibri writes these keys into the recording's metadata.json: client360 reads lead_id from there
            app_data = '{"file_recording_metadata":{"lead_id":"' .. lead .. '"}}';
        });
    module:send(iq);
    module:log("info", "Recording %s (lead %s) started in the name of %s", room.jid, lead, occupant.nick);
end

local function start_now(room, lead, preferred_jid)
    if room.destroying then
        return false;
    end
    local preferred = preferred_jid and room:get_occupant_by_real_jid(preferred_jid);
    if preferred and may_record(preferred) then
        send_start(room, lead, preferred);
        return true;
    end
    for _, occupant in room:each_occupant() do
        if may_record(occupant) then
            send_start(room, lead, occupant);
            return true;
        end
    end
    return false;
end

-- A moderator appeared (joined, or was given the role): ask once, after a pause, so that jicofo has seen the
-- occupant and its role before the IQ arrives. If by then no moderator is left, the next one re-arms it.
local function consider(room, occupant)
    if not room or not occupant or room._client360_autostart or not lead_of(room) then
        return;
    end
    if not may_record(occupant) then
        return;
    end
    local lead, jid = lead_of(room), occupant.jid;
    room._client360_autostart = "pending";
    timer.add_task(delay, function()
        if room._client360_autostart ~= "pending" then
            return;
        end
        room._client360_autostart = start_now(room, lead, jid) and "sent" or nil;
    end);
end

module:hook("muc-room-created", function(event)
    local lead = lead_of(event.room);
    if lead then
        module:log("info", "Client room %s (lead %s): will be recorded once a moderator is in", event.room.jid, lead);
    end
end);

module:hook("muc-occupant-joined", function(event)
    consider(event.room, event.occupant);
end);

-- Presence is broadcast on every role change too: this catches a participant made moderator after joining.
module:hook("muc-broadcast-presence", function(event)
    consider(event.room, event.occupant);
end);

module:log("info", "client360 autostart: recording rooms named %s<lead id>…", prefix);
