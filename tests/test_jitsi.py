"""deploy/jitsi: the Prosody module that starts Jibri in client rooms, run under real Lua (5.4 as Debian's Prosody,
and 5.1) with a small stand-in for Prosody's module API, its room rule checked against the Python one, and Jibri's
finalize script run on temporary session folders."""

import json
import os
import shutil
import stat
import subprocess
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from assets.meetings.discovery import RecordingsFolder, lead_id_from_room

ROOT = Path(__file__).resolve().parent.parent
JITSI = ROOT / "deploy" / "jitsi"
FINALIZE = JITSI / "finalize.sh"

# Reads commands from stdin (one a line), prints results. Stands in for what the module uses of Prosody:
# module:hook/send/log/get_option_*/require, util.stanza/timer/uuid, prosody.full_sessions and a MUC room.
HARNESS = r"""
local dir = arg[1]
local rule = dofile(dir .. "/client360_room_rule.lib.lua")
local function unhex(s) return (s:sub(2):gsub("%x%x", function(h) return string.char(tonumber(h, 16)) end)) end
local function out(...) io.write(table.concat({...}, "\t"), "\n") end

local hooks, tasks, sent, options = {}, {}, {}, {}
package.preload["util.stanza"] = function()
    local mt = {}
    mt.__index = mt
    function mt:tag(name, attr) table.insert(self.tags, { name = name, attr = attr or {} }); return self end
    return { iq = function(attr) return setmetatable({ name = "iq", attr = attr, tags = {} }, mt) end }
end
package.preload["util.timer"] = function()
    return { add_task = function(seconds, fn) table.insert(tasks, { seconds = seconds, fn = fn }) end }
end
package.preload["util.uuid"] = function()
    local n = 0
    return { generate = function() n = n + 1; return "uuid-" .. n end }
end
prosody = { full_sessions = {} }
module = { host = "conference.meet.example" }
function module:hook(name, fn) hooks[name] = hooks[name] or {}; table.insert(hooks[name], fn) end
function module:send(stanza) table.insert(sent, stanza) end
function module:log(level, fmt, ...) io.stderr:write(level, " ", string.format(fmt, ...), "\n") end
function module:get_option_string(name, default) return options[name] or default end
function module:get_option_number(name, default) return tonumber(options[name]) or default end
function module:require(name) return dofile(dir .. "/" .. name .. ".lib.lua") end
local function fire(name, event) for _, fn in ipairs(hooks[name] or {}) do fn(event) end end

local function copy(o) local c = {}; for k, v in pairs(o) do c[k] = v end; return c end
local rooms, room = {}, nil
local function new_room(jid)
    local r = { jid = jid, occupants = {}, order = {} }
    function r:each_occupant()
        local i = 0
        return function()
            repeat i = i + 1 until self.order[i] == nil or self.occupants[self.order[i]]
            local nick = self.order[i]
            if nick then return nick, copy(self.occupants[nick]) end
        end
    end
    function r:get_occupant_by_real_jid(real)
        for _, o in pairs(self.occupants) do if o.jid == real then return copy(o) end end
    end
    return r
end

local commands = {}
function commands.option(name, value) options[name] = value end
function commands.load() dofile(dir .. "/mod_client360_autostart.lua") end
function commands.room(jid) room = rooms[jid] or new_room(jid); rooms[jid] = room end
function commands.join(real, nick, role, recording)
    local o = { jid = real, bare_jid = real:match("^[^/]+"), nick = room.jid .. "/" .. nick, role = role }
    local first = not room.created
    room.occupants[o.nick] = o
    table.insert(room.order, o.nick)
    if recording then prosody.full_sessions[real] = { jitsi_meet_context_features = { recording = recording } } end
    fire("muc-broadcast-presence", { room = room, occupant = copy(o) })
    fire("muc-occupant-joined", { room = room, occupant = copy(o), nick = o.nick })
    if first then room.created = true; fire("muc-room-created", { room = room, creator = copy(o) }) end
end
function commands.role(nick, role)
    local o = room.occupants[room.jid .. "/" .. nick]
    o.role = role
    fire("muc-broadcast-presence", { room = room, occupant = copy(o) })
end
function commands.leave(nick)
    local key = room.jid .. "/" .. nick
    local o = room.occupants[key]
    room.occupants[key], o.role = nil, nil
    fire("muc-broadcast-presence", { room = room, occupant = copy(o) })
    fire("muc-occupant-left", { room = room, occupant = copy(o) })
end
function commands.destroy() room.destroying = true; fire("muc-room-destroyed", { room = room }) end
function commands.tick() local due = tasks; tasks = {}; for _, t in ipairs(due) do t.fn() end end
function commands.timers() out("timers", tostring(#tasks), tasks[1] and tostring(tasks[1].seconds) or "-") end
function commands.sent()
    for _, s in ipairs(sent) do
        local j = s.tags[1] or { attr = {} }
        out("iq", s.attr.type, s.attr.from, s.attr.to, j.name or "", j.attr.xmlns or "", j.attr.action or "",
            j.attr.recording_mode or "", j.attr.app_data or "")
    end
    out("sent", tostring(#sent))
    sent = {}
end
function commands.lead(prefix, name) out("lead", rule.lead_id(unhex(name), unhex(prefix)) or "-") end
function commands.jidlead(prefix, jid) out("lead", rule.lead_id_from_jid(unhex(jid), unhex(prefix)) or "-") end

for line in io.lines() do
    local words = {}
    for w in line:gmatch("%S+") do table.insert(words, w) end
    if words[1] then
        local command = commands[table.remove(words, 1)] or error("unknown command: " .. line)
        command((unpack or table.unpack)(words))
    end
end
"""


@pytest.fixture(params=["lua5.4", "lua5.1"])
def lua(request, tmp_path_factory):
    exe = shutil.which(request.param)
    if not exe:
        message = f"{request.param} is not installed (`bash .ci/ensure-lua` installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    harness = tmp_path_factory.getbasetemp() / "prosody_harness.lua"
    if not harness.exists():
        harness.write_text(HARNESS)

    def run(lines: list[str], env: dict | None = None) -> list[list[str]]:
        proc = subprocess.run(
            [exe, str(harness), str(JITSI)],
            input="\n".join(lines) + "\n",
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, **(env or {})},
        )
        assert proc.returncode == 0, proc.stderr
        return [line.split("\t") for line in proc.stdout.splitlines()]

    return run


def _hex(s: str) -> str:
    return "x" + s.encode("utf-8").hex()  # "x" so that an empty string is still a word


def _leads(lua, command: str, cases: list[tuple[str, str]]) -> list[str | None]:
    rows = lua([f"{command} {_hex(prefix)} {_hex(value)}" for prefix, value in cases])
    return [None if row[1] == "-" else row[1] for row in rows]


# (prefix, room name, lead id)
RULE_CASES = [
    ("client", "client-12345", "12345"),
    ("client", "client_12345_anything", "12345"),
    ("client", "Client12345", "12345"),
    ("client", "CLIENT.7", "7"),
    ("client", "client-12345-поставки", "12345"),
    ("client", "client-12345-%d0%bf%d0%be", "12345"),
    ("client", "client-00123", "00123"),
    ("client", "client-12-", "12"),
    ("client", "  client-12  ", "12"),
    ("Client", "client-5", "5"),
    ("client", "client--12345", None),
    ("client", "client-abc", None),
    ("client", "client-12a", None),
    ("client", "client", None),
    ("client", "client-", None),
    ("client", "clients-12", None),
    ("client", "xclient-12", None),
    ("client", "client 12", None),
    ("client", "client-1-a\nb", None),
    ("client", "[acme]client-12", None),  # the tenant is taken off the JID node before the rule
    ("client", "__jicofo-health-check-1234", None),
    ("lead", "lead_99_x", "99"),
    ("lead", "client-99", None),
    ("c360.x", "c360.x-5", "5"),
    ("c360.x", "c360ax-5", None),  # the prefix is literal, not a pattern
    ("клиент", "клиент-77-встреча", "77"),
    ("", "12345-x", "12345"),
    ("client", "client-123456789012", "123456789012"),  # a lead id: at most 12 digits, not all zeros
    ("client", "client-1234567890123", None),
    ("client", "client-99999999999999999999999999", None),
    ("client", "client-0", None),
    ("client", "client-000-x", None),
]


def test_room_rule_agrees_with_python(lua):
    cases = [(prefix, name) for prefix, name, _ in RULE_CASES]
    expected = [lead for _, _, lead in RULE_CASES]
    assert [lead_id_from_room(name, prefix) for prefix, name in cases] == expected
    assert _leads(lua, "lead", cases) == expected

    names = sorted({name for _, name, _ in RULE_CASES} | {"lead-1", "LEAD.2.x", "c360.x12", "client_3.mp4"})
    prefixes = sorted({prefix for prefix, _, _ in RULE_CASES} | {"LEAD", "C360.X"})
    grid = [(prefix, name) for prefix in prefixes for name in names]
    assert _leads(lua, "lead", grid) == [lead_id_from_room(name, prefix) for prefix, name in grid]


def test_room_jid_without_tenant_and_url_encoding(lua):
    cases = [
        ("client", "client-12345@conference.meet.example.ru", "12345"),
        ("client", "[acme]client_777_x@conference.meet.example.ru", "777"),
        ("client", "client-12345-%d0%bf%d0%be%d1%81%d1%82%d0%b0%d0%b2%d0%ba%d0%b8@conference.meet.example", "12345"),
        ("client", "client%2d55@conference.meet.example", "55"),
        ("клиент", "%d0%ba%d0%bb%d0%b8%d0%b5%d0%bd%d1%82-77@conference.meet.example", "77"),
        ("client", "planning@conference.meet.example", None),
        ("client", "[client-1]planning@conference.meet.example", None),
        ("client", "client-12345", None),  # not a JID
    ]
    assert _leads(lua, "jidlead", [(p, j) for p, j, _ in cases]) == [lead for _, _, lead in cases]


def _iqs(rows: list[list[str]]) -> list[dict]:
    iqs = []
    for row in rows:
        if row[0] == "iq":
            keys = ("type", "from", "to", "child", "xmlns", "action", "recording_mode", "app_data")
            iqs.append(dict(zip(keys, row[1:], strict=True)))
    return iqs


def _sent_counts(rows: list[list[str]]) -> list[int]:
    return [int(row[1]) for row in rows if row[0] == "sent"]


def test_client_room_gets_one_start_request_from_a_moderator_after_the_delay(lua):
    rows = lua(
        [
            "load",
            "room client-12345@conference.meet.example",
            "join focus@auth.meet.example/focus1 focus moderator",
            "tick",
            "sent",
            "join anna@meet.example/web1 anna moderator",
            "timers",
            "sent",
            "tick",
            "sent",
            "join boris@meet.example/web2 boris moderator",
            "role anna participant",
            "role anna moderator",
            "tick",
            "timers",
            "sent",
        ]
    )
    assert _sent_counts(rows) == [0, 0, 1, 0]
    assert ["timers", "1", "3"] in rows and rows[-2] == ["timers", "0", "-"]
    (iq,) = _iqs(rows)
    assert iq == {
        "type": "set",
        "from": "anna@meet.example/web1",
        "to": "client-12345@conference.meet.example/focus",
        "child": "jibri",
        "xmlns": "http://jitsi.org/protocol/jibri",
        "action": "start",
        "recording_mode": "file",
        "app_data": iq["app_data"],
    }
    assert json.loads(iq["app_data"]) == {"file_recording_metadata": {"lead_id": "12345"}}


@pytest.mark.parametrize(
    "room",
    [
        "planning@conference.meet.example",
        "client-abc@conference.meet.example",
        "clients-5@conference.meet.example",
        "[client-1]planning@conference.meet.example",
        "__jicofo-health-check-3f2a@conference.meet.example",
    ],
)
def test_other_rooms_are_never_recorded(lua, room):
    rows = lua(["load", f"room {room}", "join anna@meet.example/web1 anna moderator", "timers", "tick", "sent"])
    assert rows == [["timers", "0", "-"], ["sent", "0"]]


@pytest.mark.parametrize(
    ("room", "lead"),
    [
        ("[acme]client_777_x@conference.meet.example", "777"),
        ("client-12345-%d0%bf%d0%be@conference.meet.example", "12345"),
        ("Client-9@conference.meet.example", "9"),
    ],
)
def test_tenant_encoded_and_uppercase_rooms(lua, room, lead):
    rows = lua(["load", f"room {room}", "join anna@meet.example/web1 anna moderator", "tick", "sent"])
    (iq,) = _iqs(rows)
    assert iq["to"] == f"{room}/focus"
    assert json.loads(iq["app_data"])["file_recording_metadata"]["lead_id"] == lead


def test_participant_made_moderator_later_starts_it(lua):
    rows = lua(
        [
            "load",
            "room client-1@conference.meet.example",
            "join anna@meet.example/web1 anna participant",
            "tick",
            "sent",
            "role anna moderator",
            "tick",
            "sent",
        ]
    )
    assert _sent_counts(rows) == [0, 1]
    assert _iqs(rows)[0]["from"] == "anna@meet.example/web1"


def test_moderator_leaving_before_the_delay_rearms_for_the_next_one(lua):
    rows = lua(
        [
            "load",
            "room client-1@conference.meet.example",
            "join anna@meet.example/web1 anna moderator",
            "leave anna",
            "tick",
            "sent",
            "join boris@meet.example/web2 boris moderator",
            "tick",
            "sent",
        ]
    )
    assert _sent_counts(rows) == [0, 1]
    assert _iqs(rows)[0]["from"] == "boris@meet.example/web2"


def test_no_request_from_jitsi_services_a_token_without_recording_or_a_closed_room(lua):
    rows = lua(
        [
            "load",
            "room client-1@conference.meet.example",
            "join recorder@recorder.meet.example/jibri1 jibri moderator",
            "join anna@meet.example/web1 anna moderator false",
            "tick",
            "sent",
            "room client-2@conference.meet.example",
            "join boris@meet.example/web2 boris moderator",
            "destroy",
            "tick",
            "sent",
            "room client-3@conference.meet.example",
            "join vera@meet.example/web3 vera moderator true",
            "tick",
            "sent",
        ]
    )
    assert _sent_counts(rows) == [0, 0, 1]
    assert _iqs(rows)[0]["from"] == "vera@meet.example/web3"


def test_prefix_comes_from_the_prosody_setting_or_the_environment(lua):
    script = ["room lead-5@conference.meet.example", "join a@meet.example/w a moderator", "tick", "sent"]
    script += ["room client-6@conference.meet.example", "join b@meet.example/w b moderator", "tick", "sent"]
    assert _sent_counts(lua(["option client360_room_prefix lead", "load", *script])) == [1, 0]
    assert _sent_counts(lua(["load", *script], env={"C360_ROOM_PREFIX": "lead"})) == [1, 0]
    assert _sent_counts(lua(["load", *script], env={"C360_ROOM_PREFIX": ""})) == [0, 1]  # empty = unset, as in Settings
    assert ["timers", "1", "10"] in lua(["option client360_autostart_delay 10", "load", *script[4:6], "timers"])


# --- finalize.sh -------------------------------------------------------------------------------------------------


def finalize(*args: str | Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["sh", str(FINALIZE), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def session(root: Path, *, metadata: str | None = '{"meeting_url": "https://meet.example/client-12345"}') -> Path:
    folder = root / "5f0c7a3e-jibri-session"
    folder.mkdir(parents=True)
    media = folder / "client-12345_2026-03-02-10-15-00.mp4"
    media.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"x" * 4096)
    media.chmod(0o600)
    if metadata is not None:
        (folder / "metadata.json").write_text(metadata)
    folder.chmod(0o700)
    return folder


def snapshot(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.rglob("*"))}


def visible(root: Path) -> list[tuple[str, str]]:
    scan = RecordingsFolder(root, prefix="client", tz=ZoneInfo("Europe/Moscow")).scan(now=time.time())
    assert scan.unmatched == []
    return [(r.client_id, r.media_path.name) for r in scan.ready]


def test_finalize_is_executable_posix_sh():
    assert os.access(FINALIZE, os.X_OK)
    assert FINALIZE.read_text().startswith("#!/bin/sh\n")
    assert subprocess.run(["sh", "-n", str(FINALIZE)]).returncode == 0


def test_finalize_keeps_jibris_metadata_and_makes_everything_readable(tmp_path):
    folder = session(tmp_path)
    before = (folder / "metadata.json").read_bytes()
    result = finalize(folder)
    assert result.returncode == 0, result.stderr
    assert (folder / "metadata.json").read_bytes() == before
    assert stat.S_IMODE(folder.stat().st_mode) & 0o005 == 0o005
    for f in folder.iterdir():
        assert stat.S_IMODE(f.stat().st_mode) & 0o004, f
    assert sorted(p.name for p in folder.iterdir()) == ["client-12345_2026-03-02-10-15-00.mp4", "metadata.json"]
    assert visible(tmp_path) == [("12345", "client-12345_2026-03-02-10-15-00.mp4")]


@pytest.mark.parametrize("metadata", [None, ""])
def test_finalize_writes_a_minimal_metadata_when_jibri_left_none(tmp_path, metadata):
    folder = session(tmp_path, metadata=metadata)
    result = finalize(folder)
    assert result.returncode == 0, result.stderr
    data = json.loads((folder / "metadata.json").read_text())
    assert data["participants"] == [] and "finalize.sh" in data["written_by"]
    assert sorted(p.name for p in folder.iterdir()) == ["client-12345_2026-03-02-10-15-00.mp4", "metadata.json"]
    assert visible(tmp_path) == [("12345", "client-12345_2026-03-02-10-15-00.mp4")]


def test_finalize_twice_changes_nothing(tmp_path):
    folder = session(tmp_path, metadata=None)
    assert finalize(folder).returncode == 0
    first = snapshot(folder)
    again = finalize(str(folder) + "/")
    assert again.returncode == 0, again.stderr
    assert snapshot(folder) == first


def test_finalize_refuses_bad_arguments_and_folders(tmp_path):
    for args in [(), ("",), (tmp_path / "missing",)]:
        result = finalize(*args)
        assert result.returncode == 2 and "client360 finalize:" in result.stderr, args
    assert "does not exist" in finalize(tmp_path / "missing").stderr
    (tmp_path / "file.mp4").write_bytes(b"x")
    result = finalize(tmp_path / "file.mp4")
    assert result.returncode == 2 and "not a folder" in result.stderr


@pytest.mark.parametrize("content", [{}, {"notes.txt": b"x"}, {"client-1_2026-03-02-10-15-00.mp4": b""}])
def test_finalize_leaves_a_folder_without_a_recording_alone(tmp_path, content):
    folder = tmp_path / "session"
    folder.mkdir()
    for name, data in content.items():
        (folder / name).write_bytes(data)
    before = snapshot(folder)
    result = finalize(folder)
    assert result.returncode == 3 and "no recording file" in result.stderr
    assert snapshot(folder) == before


def test_finalize_moves_to_a_destination_in_one_step_and_only_then_deletes(tmp_path):
    jibri, nfs = tmp_path / "jibri", tmp_path / "nfs"
    nfs.mkdir()
    folder = session(jibri, metadata=None)
    media = snapshot(folder)["client-12345_2026-03-02-10-15-00.mp4"]
    result = finalize(folder, nfs)
    assert result.returncode == 0, result.stderr
    assert not folder.exists()
    assert [p.name for p in nfs.iterdir()] == [folder.name]  # no hidden copy left behind
    moved = snapshot(nfs / folder.name)
    assert moved["client-12345_2026-03-02-10-15-00.mp4"] == media  # same bytes, same mtime
    assert json.loads(moved["metadata.json"][0])["participants"] == []
    assert visible(nfs) == [("12345", "client-12345_2026-03-02-10-15-00.mp4")]

    again = finalize(folder, env={"C360_RECORDINGS_DEST": str(nfs)})
    assert again.returncode == 0 and "already" in again.stderr
    assert snapshot(nfs / folder.name) == moved


def test_finalize_destination_cases_never_lose_a_file(tmp_path):
    jibri, nfs = tmp_path / "jibri", tmp_path / "nfs"
    nfs.mkdir()
    folder = session(jibri)
    # an earlier run copied and renamed, then stopped before deleting the original
    shutil.copytree(folder, nfs / folder.name)
    (nfs / f".c360-incoming-{folder.name}").mkdir()
    assert finalize(folder, nfs).returncode == 0
    assert not folder.exists() and [p.name for p in nfs.iterdir()] == [folder.name]
    assert (nfs / folder.name / "metadata.json").exists()

    # a different folder of the same name is there: keep both, fail loudly
    folder = session(jibri)
    (nfs / folder.name / "client-12345_2026-03-02-10-15-00.mp4").write_bytes(b"other")
    result = finalize(folder, nfs)
    assert result.returncode == 1 and "nothing deleted" in result.stderr
    assert folder.exists() and (nfs / folder.name / "client-12345_2026-03-02-10-15-00.mp4").read_bytes() == b"other"

    result = finalize(folder, tmp_path / "no-such-dest")
    assert result.returncode == 2 and folder.exists()

    # the destination is the folder Jibri records into: finalized in place, never deleted
    folder = session(tmp_path / "same", metadata="")
    assert finalize(folder, tmp_path / "same" / ".").returncode == 0
    assert json.loads((folder / "metadata.json").read_text())["participants"] == []
    assert visible(tmp_path / "same") == [("12345", "client-12345_2026-03-02-10-15-00.mp4")]


def test_finalize_resumes_after_a_copy_whose_original_had_an_empty_metadata(tmp_path):
    jibri, nfs = tmp_path / "jibri", tmp_path / "nfs"
    nfs.mkdir()
    folder = session(jibri, metadata="")
    shutil.copytree(folder, nfs / folder.name)
    (nfs / folder.name / "metadata.json").write_text('{"participants": []}')
    assert finalize(folder, nfs).returncode == 0
    assert not folder.exists() and json.loads((nfs / folder.name / "metadata.json").read_text()) == {"participants": []}
