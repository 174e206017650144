"""Offline demo company: ~10 clients of a fulfillment warehouse and a few days of meetings in Jibri layout."""

from __future__ import annotations

import json
import os
import random
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

CURATORS = ["Анна Соколова", "Игорь Лебедев", "Мария Кузнецова"]
CLIENTS = [
    ("10234", "ИП Смирнова (детская одежда)", "Ольга Смирнова", "Wildberries"),
    ("10517", "ООО «ДомТекстиль»", "Артём Волков", "Ozon"),
    ("10892", "ИП Гарипов (автотовары)", "Рустам Гарипов", "Wildberries и Ozon"),
    ("11045", "ООО «ЭкоКосметик»", "Екатерина Павлова", "Яндекс Маркет"),
    ("11301", "ИП Никитин (спорттовары)", "Денис Никитин", "Ozon"),
    ("11576", "ООО «Зоомир»", "Светлана Орлова", "Wildberries"),
    ("11820", "ИП Ахмедова (бижутерия)", "Лейла Ахмедова", "Wildberries и Яндекс Маркет"),
    ("12093", "ООО «ТехноДом»", "Павел Романов", "Ozon и Яндекс Маркет"),
    ("12340", "ИП Фролова (товары для дома)", "Наталья Фролова", "Wildberries"),
    ("12688", "ООО «Гринлайн»", "Максим Белов", "Ozon"),
]

OPENINGS = [
    "{c}, добрый день! Давайте обсудим поставки на {mp} на следующую неделю.",
    "{c}, здравствуйте. Сегодня хотели пройтись по итогам месяца и по отгрузкам на {mp}.",
    "Добрый день, {c}. Повестка: остатки на складе, тарифы и планы на {mp}.",
]
BODY = [
    ("client", "У нас в прошлую поставку был пересорт по двум артикулам, Wildberries выставил штраф."),
    ("curator", "Да, видим. Проверим, на каком этапе произошла ошибка, и пришлём акт до пятницы."),
    ("client", "Нам важно отгрузить новую коллекцию к распродаже, это примерно четыре тысячи единиц."),
    ("curator", "Хорошо, зарезервируем окно приёмки на вторник и подготовим маркировку Честный знак."),
    ("client", "Тарифы на хранение выросли, честно говоря, для нас это стало дорого."),
    ("curator", "Понимаю. Подготовлю расчёт с учётом объёма, возможно, дадим скидку на хранение."),
    ("client", "Ozon снова задержал приёмку на распределительном центре, поставка висит три дня."),
    ("curator", "Мы отправим запрос в поддержку Ozon сегодня и будем держать вас в курсе."),
    ("client", "Продажи на маркетплейсе растут, хотим подключить отгрузки FBS со склада."),
    ("curator", "Отлично, договорились запустить FBS с первого числа, настройку интеграции сделаем на этой неделе."),
    ("client", "Возвраты обрабатываются слишком долго, товар неделю лежит без движения."),
    ("curator", "Согласовали: возвраты будем разбирать в течение двух рабочих дней, я обновлю регламент."),
    ("client", "Если ситуация с опозданиями не изменится, будем смотреть другой фулфилмент."),
    ("curator", "Давайте не доводить до этого: я лично проконтролирую следующие три отгрузки."),
    ("client", "Нужна фотосъёмка новых товаров и упаковка в пакеты с клапаном."),
    ("curator", "Сделаем, отправлю прайс на фотосъёмку завтра."),
]
CLOSINGS = [
    ("curator", "Итак, договорились: созвонимся в понедельник и сверим результаты."),
    ("client", "Хорошо, спасибо, ждём документы."),
]


def _dialogue(rng: random.Random, curator: str, client_person: str, mp: str) -> list[tuple[str, str]]:
    lines = [(curator, rng.choice(OPENINGS).format(c=client_person.split()[0], mp=mp))]
    pairs = [BODY[i : i + 2] for i in range(0, len(BODY), 2)]
    for pair in rng.sample(pairs, k=rng.randint(3, 5)):
        lines += [(client_person if who == "client" else curator, text) for who, text in pair]
    lines += [(client_person if who == "client" else curator, text) for who, text in CLOSINGS]
    return lines


def _vtt(lines: list[tuple[str, str]]) -> str:
    out, t = ["WEBVTT", ""], 0.0
    for speaker, text in lines:
        dur = 3 + len(text) / 15
        out += [f"{_ts(t)} --> {_ts(t + dur)}", f"<v {speaker}>{text}", ""]
        t += dur + 1
    return "\n".join(out)


def _ts(seconds: float) -> str:
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{int(h):02d}:{int(m):02d}:{s:06.3f}"


def write_tone(path: Path, seconds: float = 1.0, freq: float = 440.0, amplitude: float = 0.3) -> None:
    """A short real audio/video container with a sine tone (PyAV), so demo files are genuine media."""
    import av
    import numpy as np

    aac = path.suffix in (".mp4", ".m4a")
    with av.open(str(path), mode="w") as out:
        stream = out.add_stream("aac" if aac else "libopus", rate=16000 if aac else 48000)
        stream.layout = "mono"
        total, step = int(seconds * stream.rate), 1024
        for i in range(0, total, step):  # chunk by chunk: a 90-minute file must not sit in memory
            t = np.arange(i, min(i + step, total)) / stream.rate
            samples = (amplitude * np.sin(2 * np.pi * freq * t) * 32767).astype(np.int16)
            frame = av.AudioFrame.from_ndarray(samples[None, :], format="s16", layout="mono")
            frame.sample_rate = stream.rate
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def write_jibri_session(
    root: Path,
    session_id: str,
    room: str,
    started: datetime,
    lines: list[tuple[str, str]] | None,
    *,
    domain: str = "meet.ff-sklad.ru",
    participants: list[dict] | None = None,
    extra: dict | None = None,
) -> Path:
    """One Jibri session folder: <room>_<yyyy-MM-dd-HH-mm-ss>.mp4, an optional sidecar .vtt, metadata.json last."""
    folder = root / session_id
    folder.mkdir(parents=True, exist_ok=True)
    media = folder / f"{room}_{started:%Y-%m-%d-%H-%M-%S}.mp4"
    write_tone(media)
    if lines is not None:
        media.with_suffix(".vtt").write_text(_vtt(lines), encoding="utf-8")
    meta = {"meeting_url": f"https://{domain}/{room}", "participants": participants or [], **(extra or {})}
    (folder / "metadata.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    return folder


def _finished_at(when: datetime, *paths: Path) -> None:
    """Files written at `when` of the demo world. A file time is physical, so never later than an hour ago on the real
    clock: with C360_TODAY ahead of it, a file from the future would never look complete to the folder sensors."""
    stamp = min(when.timestamp(), datetime.now().timestamp() - 3600)
    for path in paths:
        os.utime(path, (stamp, stamp))


def build_demo_company(root: Path, today: date, tz: ZoneInfo, *, days: int = 3, seed: int = 42) -> list[date]:
    """Meetings on the `days` days before `today`; returns those days. Deterministic for a seed and a day."""
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    meeting_days = [today - timedelta(days=d) for d in range(days, 0, -1)]
    for day in meeting_days:
        for lead, company, person, mp in rng.sample(CLIENTS, k=rng.randint(2, 4)):
            curator = rng.choice(CURATORS)
            started = datetime.combine(day, time(rng.randint(9, 17), rng.choice([0, 15, 30, 45]), rng.randint(0, 59)))
            room = f"client-{lead}-{rng.choice(['vstrecha', 'sozvon', 'itogi'])}"
            participants = [
                {"id": curator, "name": curator},
                {"id": person, "name": f"{person} ({company})"},
            ]
            session = f"{rng.getrandbits(48):012x}"
            write_jibri_session(
                root, session, room, started, _dialogue(rng, curator, person, mp), participants=participants
            )
    # a curator's internal call without a lead ID in the room: listed as unmatched, never dropped
    write_jibri_session(
        root,
        "internal0001",
        "planerka-kuratorov",
        datetime.combine(meeting_days[-1], time(18, 0)),
        [("Анна Соколова", "Планёрка команды.")],
    )
    # a plain file dropped by hand (recorded on a phone), with its transcript next to it
    lead, company, person, mp = CLIENTS[0]
    dropped = root / f"client_{lead}_telefon.m4a"
    write_tone(dropped)
    dropped.with_suffix(".txt").write_text(
        "\n".join(f"{who}: {text}" for who, text in _dialogue(rng, CURATORS[0], person, mp)), encoding="utf-8"
    )
    _finished_at(datetime.combine(meeting_days[-1], time(16, 20), tzinfo=tz), dropped, dropped.with_suffix(".txt"))
    return meeting_days


CHAT_LINES = [
    ("client", "Добрый день! Когда примете поставку на склад?"),
    ("staff", "Здравствуйте! Приёмка завтра до обеда, пришлём акт вечером."),
    ("client", "Опять пересорт в отгрузке на Wildberries, нам выставили штраф."),
    ("staff", "Проверим по видеозаписи упаковки и вернёмся с ответом до пятницы."),
    ("client", "Можно ускорить отгрузку FBS? Растут заказы."),
    ("staff", "Да, добавим вторую смену сборки с понедельника."),
    ("client", "Спасибо, всё получили."),
]


def build_demo_telegram_export(folder: Path, days: list[date], tz: ZoneInfo, *, seed: int = 7) -> Path:
    """A full-account Telegram Desktop export of a curator with client group chats on the demo days."""
    rng = random.Random(seed)
    curator_id, chats = 900001, []
    for n, (lead, company, person, _mp) in enumerate(CLIENTS[:5]):
        messages, mid = [], 0
        for day in days:
            for who, text in rng.sample(CHAT_LINES, k=rng.randint(2, 5)):
                mid += 1
                at = datetime.combine(day, time(rng.randint(9, 19), rng.randint(0, 59)), tzinfo=tz)
                sender = (curator_id, rng.choice(CURATORS)) if who == "staff" else (800000 + n, person)
                messages.append(
                    {
                        "id": mid,
                        "type": "message",
                        "date": at.strftime("%Y-%m-%dT%H:%M:%S"),
                        "date_unixtime": str(int(at.timestamp())),
                        "from": sender[1],
                        "from_id": f"user{sender[0]}",
                        "text": text,
                        "text_entities": [{"type": "plain", "text": text}],
                    }
                )
        messages.sort(key=lambda m: int(m["date_unixtime"]))
        for i, m in enumerate(messages, 1):
            m["id"] = i
        chats.append(
            {
                "name": f"client-{lead} {company} / фулфилмент",
                "type": "private_supergroup",
                "id": 1900000000 + n,
                "messages": messages,
            }
        )
    export = {
        "about": "Demo",
        "personal_information": {"user_id": curator_id, "first_name": "Анна"},
        "chats": {"about": "", "list": chats},
    }
    path = folder / "ChatExport_demo" / "result.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(export, ensure_ascii=False, indent=1), encoding="utf-8")
    _finished_at(datetime.combine(days[-1], time(20, 0), tzinfo=tz), path)  # an export finished yesterday evening
    return path


DEMO_EMAILS = [
    ("Счёт за хранение", "просим выставить счёт за хранение за октябрь и закрывающие документы."),
    ("Отчёт по остаткам", "пришлите, пожалуйста, отчёт по остаткам на складе на начало месяца."),
    ("Претензия по браку", "в поставке нашли брак: 14 единиц с повреждённой упаковкой, просим компенсацию."),
    ("Поставка на четверг", "подтверждаем поставку 12 паллет на четверг, машина будет к 10 утра."),
]
DEMO_CALLS = [
    "Клиент просил перенести отгрузку на Ozon на среду из-за нехватки коробов.",
    "Обсудили тариф на паллетное хранение: клиент хочет фиксированную цену на полгода.",
    "Клиент уточнял сроки подключения маркировки Честный знак для новой категории.",
]


def build_demo_bitrix(portal, days: list[date], tz: ZoneInfo, *, seed: int = 11) -> None:
    """The demo clients as Bitrix24 leads with their curators, a call and an e-mail or two on the demo days."""
    from devkit.bitrix_sim import add_lead, call, email

    rng = random.Random(seed)
    portal.users = {
        uid: {"ID": str(uid), "NAME": name.split()[0], "LAST_NAME": name.split()[1], "ACTIVE": True}
        for uid, name in enumerate(CURATORS, 1)
    }
    aid = 0
    for n, (lead, company, person, _mp) in enumerate(CLIENTS):
        since = datetime.combine(days[0] - timedelta(days=120 + 60 * n), time(10, 0), tzinfo=tz)
        add_lead(
            portal,
            int(lead),
            title=company,
            person=tuple(person.split()[:2]),
            assigned=1 + n % 3,
            created=since,
            modified=since,
        )
        for day in days:
            aid += 1
            at = datetime.combine(day, time(rng.randint(10, 17), rng.randint(0, 59)), tzinfo=tz)
            portal.activities[aid] = call(aid, 1, int(lead), at, text=rng.choice(DEMO_CALLS), direction="1")
            subject, text = rng.choice(DEMO_EMAILS)
            aid += 1
            at = datetime.combine(day, time(rng.randint(9, 18), rng.randint(0, 59)), tzinfo=tz)
            portal.activities[aid] = email(aid, 1, int(lead), at, subject=subject, text=text, n=aid)
