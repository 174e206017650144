"""Staff users and notes in the app DB: argon2 hashes, roles, rate-limited logins, who opens which client, notes
with their history — through the `client360 users` command where a person would use it."""

import contextlib
import io
import sys

import pytest
import sqlalchemy as sa

from cli.main import main
from warehouse.appdb import AppDB, login_attempts
from warehouse.staff import MAX_FAILURES, Staff, StaffError


@pytest.fixture
def staff(env):
    return Staff(AppDB(env.resolved_app_db_url))


def users_cli(*args, password=None) -> tuple[int, str]:
    out = io.StringIO()
    stdin = sys.stdin
    sys.stdin = io.StringIO((password or "") + "\n")
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            code = main(["users", *args])
    finally:
        sys.stdin = stdin
    return code, out.getvalue()


def test_users_command_adds_lists_changes_and_disables(staff):
    assert (
        users_cli(
            "add",
            "anna",
            "--role",
            "curator",
            "--name",
            "Анна Соколова",
            "--bitrix-user-id",
            "1",
            "--password-stdin",
            password="верный-пароль-1",
        )[0]
        == 0
    )
    code, out = users_cli("add", "anna", "--role", "admin", "--password-stdin", password="ещё-один-пароль")
    assert code == 1 and "уже есть" in out
    assert users_cli("add", "short", "--role", "viewer", "--password-stdin", password="123")[0] == 1
    code, out = users_cli("list")
    assert "anna" in out and "curator" in out and "свои клиенты" in out and "Анна Соколова" in out
    with staff.engine.connect() as con:
        stored = con.execute(sa.text("select password_hash from users where login = 'anna'")).scalar()
    assert stored.startswith("$argon2id$") and "верный-пароль-1" not in stored

    assert staff.authenticate("anna", "верный-пароль-1").role == "curator"
    assert users_cli("set-password", "anna", "--password-stdin", password="новый-пароль-22")[0] == 0
    assert staff.authenticate("anna", "верный-пароль-1") is None
    assert staff.authenticate("anna", "новый-пароль-22") is not None
    assert users_cli("disable", "anna")[0] == 0
    assert staff.authenticate("anna", "новый-пароль-22") is None, "a disabled user cannot log in"


def test_failed_logins_are_logged_and_rate_limited(staff, caplog):
    staff.add("igor", "viewer", "пароль-игоря-1")
    for _ in range(MAX_FAILURES):
        assert staff.authenticate("igor", "не тот", source="10.0.0.7") is None
    assert staff.authenticate("igor", "пароль-игоря-1", source="10.0.0.7") is None, "locked for 15 minutes"
    with staff.engine.connect() as con:
        rows = con.execute(sa.select(login_attempts.c.ok, login_attempts.c.source)).fetchall()
    assert len(rows) == MAX_FAILURES + 1 and not any(ok for ok, _ in rows) and rows[0][1] == "10.0.0.7"
    assert "неудачный вход: igor" in caplog.text and "отклонён" in caplog.text


def test_who_opens_which_client(staff):
    anna = staff.add("anna", "curator", "пароль-анны-1", bitrix_user_id=1)
    boss = staff.add("boss", "admin", "пароль-босса-1")
    all_seeing = staff.add("maria", "curator", "пароль-марии-1", bitrix_user_id=3, see_all=True)
    watcher = staff.add("olga", "viewer", "пароль-ольги-1")
    assert anna.can_open(1) and not anna.can_open(2) and not anna.can_open(None)
    assert boss.can_open(2) and all_seeing.can_open(2) and watcher.can_open(2)
    assert anna.can_write and not watcher.can_write


def test_notes_keep_their_history_and_belong_to_their_author(staff):
    anna = staff.add("anna", "curator", "пароль-анны-1", bitrix_user_id=1)
    igor = staff.add("igor", "curator", "пароль-игоря-1", bitrix_user_id=2)
    viewer = staff.add("olga", "viewer", "пароль-ольги-1")
    note = staff.add_note(anna, "10234", "Клиент просит скидку на хранение")
    staff.edit_note(anna, note, "Клиент просит скидку 10% на хранение")
    with pytest.raises(StaffError, match="только свои"):
        staff.edit_note(igor, note, "чужая правка")
    with pytest.raises(StaffError, match="наблюдатель"):
        staff.add_note(viewer, "10234", "нельзя")
    [current] = staff.notes_of("10234")
    assert current["text"] == "Клиент просит скидку 10% на хранение" and current["author"] == "anna"
    boss = staff.add("boss", "admin", "пароль-босса-1")
    # the card's buttons follow the same rule: the author's own notes, an admin any, a viewer none
    assert Staff.may_change(anna, "anna") and Staff.may_change(boss, "anna")
    assert not Staff.may_change(igor, "anna") and not Staff.may_change(viewer, "olga")
    assert staff.note(note)["text"] == current["text"] and staff.note(10**6) is None
    staff.delete_note(anna, note)
    assert staff.note(note) is None
    assert staff.notes_of("10234") == []
    assert [(v["action"], v["text"]) for v in staff.history(note)] == [
        ("create", "Клиент просит скидку на хранение"),
        ("edit", "Клиент просит скидку 10% на хранение"),
        ("delete", "Клиент просит скидку 10% на хранение"),
    ]
    changed = staff.notes_changed_since(None)
    assert len(changed) == 1 and changed[0]["deleted_at"] is not None, "a deletion reaches the warehouse too"
