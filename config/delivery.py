"""Messages to a Telegram chat sent once: the app DB's ledger of parts, groups that became supergroups followed.

Every sender uses it (the curators' report, the alerts, the run failure notice, the GLM account notice): its layer
(below rag/, above warehouse/ and connectors/) lets each of them import it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from connectors.http import ExternalServiceError
from connectors.telegram_bot import ChatTarget, TelegramBot, escape, split_html

if TYPE_CHECKING:  # the app DB (SQLAlchemy) is passed in by the callers that deliver
    from warehouse.appdb import AppDB


@dataclass
class Delivery:
    parts_total: int
    parts_sent_now: int
    already_sent: bool
    unconfirmed_parts: list[int] = field(default_factory=list)  # 1-based: may or may not have arrived


def migration_notice(old: str, new: str, setting: str) -> str:
    name = setting or "ID группы в настройках"
    return (
        "ℹ️ <b>Группа стала супергруппой</b>, и Telegram дал ей новый ID: "
        f"<code>{escape(new)}</code> (был <code>{escape(old)}</code>).\n"
        f"Бот уже пишет сюда. Замените в настройках (.env) <code>{escape(name)}={escape(old)}</code> на "
        f"<code>{escape(name)}={escape(new)}</code> и перезапустите сервис; до тех пор бот сам помнит новый ID."
    )


def deliver_report(
    bot: TelegramBot, db: AppDB, chat: ChatTarget, key: str, html: str, covers: Sequence[str] = ()
) -> Delivery:
    """Send a report once: the ledger keeps its parts, so a retry sends only what is still missing. `covers`: the
    keys of what the report says, marked sent with it (AppDB.complete_report).

    Each part is marked as being sent before its sendMessage and as sent after. A part whose answer was lost (the
    connection dropped after the request went out, a gateway's 5xx) may have arrived: it is not resent — this run
    fails with the reason, the next one counts the part as unconfirmed (in `Delivery.unconfirmed_parts`, the
    metadata and the log) and sends the rest. The Bot API offers no way to check (no method reads a chat's
    history, and a bot gets no updates about its own messages), so a duplicate is never risked.
    A group upgraded to a supergroup: the bot follows migrate_to_chat_id, the app DB remembers it for later sends,
    and the new chat is told once (its own ledger entry) which setting to update.
    """
    known = db.chat_migrations()
    bot.migrations.update(known)
    try:
        delivery = _deliver_once(bot, db, chat, key, html, covers)
    finally:  # remembered even when a later part failed
        for old, new in bot.migrations.items():
            if known.get(old) != new:
                db.record_migration(old, new)
    for old, new in bot.migrations.items():  # a notice already sent is a no-op (its ledger is complete)
        if old != chat.chat_id:  # another setting's group: told by its own deliveries, naming its own setting
            continue
        notice = ChatTarget(new, chat.thread_id, chat.setting)
        _deliver_once(bot, db, notice, f"chat_migrated:{old}:{new}", migration_notice(old, new, chat.setting))
    return delivery


def _deliver_once(
    bot: TelegramBot, db: AppDB, chat: ChatTarget, key: str, html: str, covers: Sequence[str] = ()
) -> Delivery:
    status = db.report_status(key, chat.chat_id)
    if status and status["completed_at"]:
        return Delivery(status["part_count"], 0, True, [n + 1 for n in status["unconfirmed_parts"]])
    sent = 0
    for part in db.claim_report(key, chat.chat_id, split_html(html)):
        db.start_part(key, part["chat_id"], part["part_no"])
        try:
            message_id = bot.send_message(chat.chat_id, part["text"], thread_id=chat.thread_id)
        except ExternalServiceError as exc:
            if not exc.outcome_unknown:  # the Bot API answered an error: nothing arrived, a later run may send it
                db.abandon_part(key, part["chat_id"], part["part_no"])
            raise
        db.mark_part_sent(key, part["chat_id"], part["part_no"], message_id)
        sent += 1
    status = db.report_status(key, chat.chat_id)
    db.complete_report(key, status["chat_id"], covers)
    return Delivery(status["part_count"], sent, False, [n + 1 for n in status["unconfirmed_parts"]])
