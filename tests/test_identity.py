"""Identity: no WMS client is invisible for lack of a mapping. Sure INN matches applied, close names suggested,
traps (one INN on two leads, similar names of unrelated clients) listed or left alone; an unmapped churner is
alerted under its WMS name once, and not again after it is linked to its lead."""

from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from assets.alerts.assets import client_alert_delivery
from assets.bitrix24.assets import bitrix_clients
from assets.identity.assets import client_identity
from assets.identity.matching import chat_candidates, name_score, normal_name, title_score, wms_candidates
from devkit.bitrix_sim import add_lead, add_requisite
from devkit.wms_sim import WmsSimulator, WmsWorld
from evals.churn import evaluate
from orchestration.dbt import warehouse_models
from orchestration.resources import all_resources
from tests.conftest import query
from tests.fakes.bitrix import FakeBitrix24
from warehouse.aliases import save_alias
from warehouse.appdb import AppDB


def test_legal_names_are_compared_without_form_quotes_or_case():
    assert normal_name("ООО «Ромашка-Трейд»") == normal_name("Ромашка Трейд, ооо") == "ромашка трейд"
    assert normal_name('Общество с ограниченной ответственностью "Ёлка"') == "елка"
    assert name_score(normal_name("ИП Смирнова О.В."), normal_name("Смирнова О. В. (ИП)")) == 1.0
    assert name_score("селлер 1", "селлер 11") == 0.0, "numbers that differ are different organisations"
    assert name_score("ромашка", "василек") < 0.5


def _orgs(*rows):
    keys = ("client_id", "lead_title", "company_title", "requisite_name", "inn")
    return [dict(zip(keys, r, strict=True)) for r in rows]


def test_candidates_apply_one_inn_suggest_names_and_list_conflicts():
    wms = [
        {"wms_client_id": "W1", "name": "Ромашка", "inn": "7701000001", "client_id": None},
        {"wms_client_id": "W2", "name": "ИП Петров", "inn": "7701000002", "client_id": None},
        {"wms_client_id": "W3", "name": "Василёк", "inn": "7701000003", "client_id": None},  # one INN, two leads
        {"wms_client_id": "W4", "name": "Селлер 1", "inn": None, "client_id": None},  # «Селлер 11» is not it
        {"wms_client_id": "W5", "name": "Мапленный", "inn": "7701000005", "client_id": "10005"},  # the file's
    ]
    orgs = _orgs(
        ("10001", "Фулфилмент для Ромашки", "ООО «Ромашка»", "ООО «Ромашка»", "7701000001"),
        ("10002", "Петров Иван, ИП", None, None, None),
        ("10003", "Лид 3", "АО Василёк", "АО «Василёк»", "7701000003"),
        ("10013", "Лид 13", "Василёк-2", None, "7701000003"),
        ("10011", "Селлер 11", None, None, None),
        ("10005", "Другой", None, None, "7701000005"),
    )
    got = {(c.external_id, c.lead_id): c for c in wms_candidates(wms, orgs, rejected=set())}
    assert got[("W1", "10001")].status == "applied" and got[("W1", "10001")].kind == "inn"
    assert "7701000001" in got[("W1", "10001")].evidence
    assert ("W2", "10002") not in got, "«ИП Петров» and «Петров Иван» are not close enough to suggest"
    assert got[("W3", "10003")].status == got[("W3", "10013")].status == "conflict"
    assert "10013" in got[("W3", "10003")].evidence
    assert not [k for k in got if k[0] in ("W4", "W5")], "no suggestion across numbers; the file's link stands"

    off = {(c.external_id, c.lead_id): c.status for c in wms_candidates(wms, orgs, set(), auto_inn=False)}
    assert off[("W1", "10001")] == "suggested"
    no = {("wms_client", "W1", "10001")}
    rejected = {(c.external_id, c.lead_id): c.status for c in wms_candidates(wms, orgs, no)}
    assert rejected[("W1", "10001")] == "rejected"

    close = [{"wms_client_id": "W6", "name": "ООО Ромашка", "inn": None, "client_id": None}]
    [suggestion] = wms_candidates(close, orgs, set())
    assert (suggestion.lead_id, suggestion.kind, suggestion.status) == ("10001", "name", "suggested")
    assert suggestion.confidence >= 0.9


def test_chat_writers_and_titles_suggest_leads_and_two_clients_in_one_chat_are_a_conflict():
    people = [
        {"client_id": "10001", "phones": '[{"type": "WORK", "value": "+7 (900) 000-10-01"}]', "messengers": "[]"},
        {"client_id": "10002", "phones": "[]", "messengers": '[{"type": "TELEGRAM", "value": "@Petrov_Shop"}]'},
        {"client_id": "10003", "phones": '[{"type": "MOBILE", "value": "89000001003"}]', "messengers": None},
    ]
    orgs = _orgs(
        ("10001", "Лид 1", None, None, None),
        ("10002", "Лид 2", None, None, None),
        ("10003", "Лид 3", None, None, None),
        ("10004", "ООО «Ромашка»", None, None, None),
    )
    chats = [
        {"chat_id": -100, "title": "Поставки", "client_id": None},  # a member's phone: lead 1's
        {"chat_id": -200, "title": "Чат с Петровым", "client_id": None},  # a member's username: lead 2's contact
        {"chat_id": -300, "title": "Общий", "client_id": None},  # people of two clients
        {"chat_id": -400, "title": "ФФ Ромашка — отгрузки", "client_id": None},  # the title names lead 4
        {"chat_id": -500, "title": "Привязанный", "client_id": "10001"},
    ]
    members = [
        {"chat_id": -100, "name": "Ольга", "username": None, "phone": "79000001001"},
        {"chat_id": -200, "name": "Пётр", "username": "petrov_shop", "phone": None},
        {"chat_id": -300, "name": "Ольга", "username": None, "phone": "79000001001"},
        {"chat_id": -300, "name": "Иван", "username": None, "phone": "+79000001003"},
        {"chat_id": -500, "name": "Ольга", "username": None, "phone": "79000001001"},
    ]
    got = {(c.external_id, c.lead_id): c for c in chat_candidates(chats, members, people, orgs, set())}
    assert (got[("-100", "10001")].kind, got[("-100", "10001")].status) == ("phone", "suggested")
    assert "Ольга (+79000001001)" in got[("-100", "10001")].evidence
    assert (got[("-200", "10002")].kind, got[("-200", "10002")].status) == ("username", "suggested")
    assert got[("-300", "10001")].status == got[("-300", "10003")].status == "conflict"
    assert (got[("-400", "10004")].kind, got[("-400", "10004")].status) == ("title", "suggested")
    assert not [k for k in got if k[0] == "-500"], "a chat with a client is not offered another"
    assert all(c.status != "applied" for c in got.values()), "a chat is never linked without a person"
    assert title_score(normal_name("ФФ Селлер 44"), normal_name("Селлер 4")) == 0.0


@pytest.fixture
def portal(env, monkeypatch):
    """A Bitrix24 portal whose leads share INNs with some WMS clients (1, 2), one INN on two leads (3), a name-only
    match (4) and an unrelated client with a similar name (Селлер 44)."""
    with FakeBitrix24() as fake:
        add_lead(fake, 10001, company=501, title="Селлер 1")
        add_requisite(fake, 9001, company=501, inn="7700000001", name="ООО «Селлер 1»")
        add_lead(fake, 10002, contact=602, title="Селлер 2")
        add_requisite(fake, 9002, contact=602, inn="7700000002", name="ИП Селлер 2")
        add_lead(fake, 10003, company=503, title="Селлер 3")
        add_requisite(fake, 9003, company=503, inn="7700000003")
        add_lead(fake, 10033, company=533, title="Другая фирма")
        add_requisite(fake, 9033, company=533, inn="7700000003")
        add_lead(fake, 10004, title="ООО «Селлер 4»")
        add_lead(fake, 10044, title="Селлер 44")
        monkeypatch.setenv("BITRIX_WEBHOOK_URL", fake.webhook_url)
        monkeypatch.setenv("C360_BITRIX_RATE", "100")
        yield fake


def _pull(env, instance, monkeypatch, world):
    from assets.wms.assets import wms_assets

    with WmsSimulator(world) as sim:
        monkeypatch.setenv("C360_WMS_BASE_URL", sim.url)
        monkeypatch.setenv("C360_WMS_TOKEN", sim.token)
        assert dg.materialize([bitrix_clients, *wms_assets], resources=all_resources(), instance=instance).success
    # as the warehouse job runs them: staging views, the identity, then the models that read it
    build = dg.materialize([warehouse_models, client_identity], resources=all_resources(), instance=instance)
    assert build.success
    return build


@pytest.mark.calendar
def test_no_mapping_file_still_scores_matches_and_alerts_once(portal, env, instance, telegram, monkeypatch):
    world = WmsWorld(clients=12, days=365, seed=21)
    build = _pull(env, instance, monkeypatch, world)

    links = {r["wms_client_id"]: r for r in query(env, "select * from intermediate.int_wms_clients")}
    assert len(links) == 12 and all(r["client_id"] for r in links.values()), "every WMS client is a client"
    assert (links["W00001"]["lead_id"], links["W00001"]["linked_by"]) == ("10001", "inn")
    assert links["W00002"]["lead_id"] == "10002", "the INN of the lead's contact counts too"
    assert links["W00003"]["client_id"] == "wms-W00003", "one INN on two leads is never guessed"
    assert links["W00004"]["client_id"] == "wms-W00004", "a name alone is only a suggestion"
    rows = query(env, "select * from raw.identity_candidates where system = 'wms_client'")
    found = {(r["external_id"], r["lead_id"]): r for r in rows}
    assert found[("W00003", "10003")]["status"] == found[("W00003", "10033")]["status"] == "conflict"
    assert found[("W00004", "10004")]["status"] == "suggested"
    assert not [k for k in found if k[1] == "10044"], "«Селлер 44» is not «Селлер 4»"
    [mat] = build.asset_materializations_for_node("client_identity")
    assert mat.metadata["привязаны по ИНН"].value == 2
    assert "W00003" in mat.metadata["конфликты"].value and "W00004" in mat.metadata["предложения"].value

    [card] = query(env, "select * from marts.dim_clients where client_id = 'wms-W00003'")
    assert card["title"] == "Селлер 3" and not card["is_lead"]
    health = query(env, "select client_id from marts.client_health where client_id like 'wms-%'")
    assert len(health) == 10, "the ten clients linked to no lead are scored"

    monkeypatch.setenv("C360_ALERT_CHAT_ID", "-1009876543210")
    since = env.today() - timedelta(days=14)
    current = query(
        env, "select distinct dedupe_key, client_id from marts.fct_client_alerts where week_end >= ?", [since]
    )
    unlinked = sorted({r["client_id"] for r in current if r["client_id"].startswith("wms-")})
    assert unlinked, "the simulator's late churners (devkit/wms_sim.py PLANTED) are alerting now"
    assert dg.materialize([client_alert_delivery], resources=all_resources(), instance=instance).success
    assert len(telegram.messages) == len({r["client_id"] for r in current}), "one message per client"
    text = "\n".join(m["text"] for m in telegram.messages)
    for client in unlinked:
        [title] = query(env, "select title from marts.dim_clients where client_id = ?", [client])
        assert f"{title['title']} (WMS {client[4:]}, не привязан к лиду Битрикс24)" in text
    for client in {r["client_id"] for r in current} - set(unlinked):
        assert f" · лид {client}\n" in text

    # the owner links one of them to its lead: its history and alerts move there, nothing is sent again
    target = unlinked[0]
    lead = "2" + "".join(ch for ch in target if ch.isdigit())
    save_alias(env.resolved_aliases_file, "wms_client", target[4:], lead, "проверено владельцем")
    _pull(env, instance, monkeypatch, world)
    moved = query(
        env, "select distinct client_id from marts.fct_client_alerts where client_id in (?, ?)", [lead, target]
    )
    assert moved == [{"client_id": lead}]
    sent = len(telegram.messages)
    again = dg.materialize([client_alert_delivery], resources=all_resources(), instance=instance)
    assert len(telegram.messages) == sent, "an alert already sent under the WMS name is not news under the lead"
    [mat] = again.asset_materializations_for_node("client_alert_delivery")
    assert mat.metadata["отправлено новых"].value == 0


@pytest.mark.calendar
def test_a_rejected_suggestion_is_not_offered_again(portal, env, instance, monkeypatch):
    db = AppDB(env.resolved_app_db_url)
    assert db.reject_identity("wms_client", "W00001", "10001", "admin")
    assert not db.reject_identity("wms_client", "W00001", "10001", "admin")
    db.dispose()
    _pull(env, instance, monkeypatch, WmsWorld(clients=4, days=120, seed=3))
    links = {r["wms_client_id"]: r["client_id"] for r in query(env, "select * from intermediate.int_wms_clients")}
    assert links["W00001"] == "wms-W00001" and links["W00002"] == "10002"


def test_requisites_a_webhook_may_not_read_lose_only_the_inn_matches(portal, env, instance):
    portal.requisites_denied = True  # crm-requisite-list.md: 400 {"error": 0, "error_description": "Access denied."}
    result = dg.materialize([bitrix_clients], resources=all_resources(), instance=instance)
    assert result.success
    [mat] = result.asset_materializations_for_node("bitrix_clients")
    assert "Access denied" in str(mat.metadata["реквизитов (ИНН)"].value)
    assert query(env, "select count(*) as n from raw.bitrix_leads") == [{"n": 6}]


@pytest.mark.calendar
def test_eval_churn_without_any_mapping_matches_the_mapped_run(tmp_path):
    mapped = evaluate(clients=40, days=365, seed=7, workdir=tmp_path / "mapped")
    bare = evaluate(clients=40, days=365, seed=7, workdir=tmp_path / "bare", mapping=False)
    assert (bare.recall, bare.precision, bare.true_positives) == (
        mapped.recall,
        mapped.precision,
        mapped.true_positives,
    )
    assert bare.recall >= 0.9
    named = [r["client"] for r in bare.table if r["first_alert"]]
    assert named and all("не привязан к лиду" in n and "Селлер" in n for n in named)


@pytest.mark.calendar
def test_the_owner_accepts_and_rejects_suggestions_at_the_cli(portal, env, instance, monkeypatch, tmp_path):
    from tests.test_cli import cli

    world = WmsWorld(clients=5, days=120, seed=3)
    _pull(env, instance, monkeypatch, world)
    listed = cli("map", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    lines = [line for line in listed.stdout.splitlines() if line[:1].isdigit()]
    assert len(lines) == 3, listed.stdout  # W00003: two leads, one INN; W00004: a name
    number = {line.split(" → лид ")[1].split()[0]: line.split(".")[0] for line in lines}
    assert "конфликт: клиент WMS W00003 → лид 10003" in listed.stdout
    assert "предложение: клиент WMS W00004 → лид 10004" in listed.stdout

    accepted = cli("map", "--accept", number["10004"], cwd=tmp_path)
    assert accepted.returncode == 0 and "привязан к лиду 10004" in accepted.stdout
    assert "wms_client,W00004,10004" in env.resolved_aliases_file.read_text(encoding="utf-8")
    rejected = cli("map", "--reject", number["10033"], "--by", "Анна", cwd=tmp_path)
    assert rejected.returncode == 0 and "больше не предлагается" in rejected.stdout
    wrong = cli("map", "--accept", "99", cwd=tmp_path)
    assert wrong.returncode == 2 and "Нет предложения №99" in wrong.stderr

    _pull(env, instance, monkeypatch, world)
    links = {r["wms_client_id"]: r for r in query(env, "select * from intermediate.int_wms_clients")}
    assert (links["W00004"]["lead_id"], links["W00004"]["linked_by"]) == ("10004", "file")
    # the rejected lead is out: one lead is left with W00003's INN, so the INN links it
    assert (links["W00003"]["lead_id"], links["W00003"]["linked_by"]) == ("10003", "inn")
    assert cli("map", cwd=tmp_path).stdout.startswith("Предложений и конфликтов нет")


def test_a_chat_whose_writer_is_a_leads_contact_is_suggested_and_accepted(portal, env, instance, monkeypatch, tmp_path):
    from telethon.tl import types

    from assets.telegram.assets import telegram_messages
    from tests.fakes.telethon_client import ME, Chat, StandInTelegramClient, StandInTelegramResource, supergroup
    from tests.fakes.telethon_client import text_message as message
    from tests.test_cli import cli

    at = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)
    # add_lead gives lead 10002 the Telegram @seller10002 (its IM field): a member of the chat is that account
    writer = types.User(id=444, first_name="Пётр", username="seller10002", access_hash=4)
    chat = Chat(supergroup(1555000111, "Поставки на склад"), "Поставки на склад", members=[writer, ME])
    chat.messages = [message(chat, 1, writer, "Когда примете поставку?", at), message(chat, 2, ME, "Завтра", at)]
    hidden = Chat(supergroup(1555000222, "Большой канал"), "Большой канал", members_hidden=True)
    stand_in = StandInTelegramClient([chat, hidden])
    stand_in.entities[writer.id] = writer
    resources = {**all_resources(), "telegram_user": StandInTelegramResource(stand_in)}
    assert dg.materialize([telegram_messages], resources=resources, instance=instance).success
    _pull(env, instance, monkeypatch, WmsWorld(clients=2, days=60, seed=3))

    [row] = query(env, "select * from raw.identity_candidates where system = 'telegram_chat'")
    assert (row["external_id"], row["lead_id"], row["kind"], row["status"]) == (
        "-1001555000111",
        "10002",
        "username",
        "suggested",
    )
    assert "@seller10002" in row["evidence"] and "Пётр" in row["evidence"]
    assert not query(env, "select * from raw.telegram_messages"), "a chat without a client is not read"
    assert query(env, "select user_id from raw.telegram_chat_members") == [{"user_id": 444}], "staff left out"
    listed = cli("map", cwd=tmp_path)
    [line] = [x for x in listed.stdout.splitlines() if "чат Telegram -1001555000111" in x]
    accepted = cli("map", "--accept", line.split(".")[0], cwd=tmp_path)
    assert accepted.returncode == 0, accepted.stderr
    [mapped] = query(env, "select client_id, mapped_by from raw.telegram_chats where chat_id = -1001555000111")
    assert mapped == {"client_id": "10002", "mapped_by": "alias"}
    assert dg.materialize([telegram_messages], resources=resources, instance=instance).success
    assert len(query(env, "select * from raw.telegram_messages")) == 2, "once mapped, its whole history is pulled"
    assert not query(env, "select * from raw.telegram_chat_members where chat_id = -1001555000111")


def test_unlinked_clients_are_for_admins_unless_the_owner_shows_them_to_all(env, monkeypatch):
    from chat_app.data import may_open
    from warehouse.staff import User

    curator = User("anna", "Анна", "curator", True, False, 7)
    admin = User("boss", "Босс", "admin", True, False, None)
    unlinked, other = {"client_id": "wms-W00003", "curator_id": None}, {"client_id": "10002", "curator_id": 8}
    assert may_open(admin, unlinked) and not may_open(curator, unlinked) and not may_open(curator, other)
    monkeypatch.setenv("C360_UNLINKED_VISIBLE_TO_ALL", "true")
    assert may_open(curator, unlinked) and not may_open(curator, other), "only the unlinked ones open to all"
