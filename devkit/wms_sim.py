"""A WMS simulator speaking the reference contract (design.md), over a generated year of a 3PL warehouse.

Planted behaviours with known dates (written to a ground-truth file) let the churn signals be evaluated:
withdrawal of most stock, a reservation spike, inbound stopping while stock drains (churners) — and three traps
that are not churn: a seasonal client after the New-Year peak, a client shipping a large FBO supply, and one that
reserves a large share of its stock for days before shipping it to a marketplace's warehouse as one FBO supply.
"""

from __future__ import annotations

import bisect
import json
import math
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qs, urlparse

from config.settings import get_settings
from devkit.local_http import LocalHttpServer

MARKETPLACES = ("wildberries", "ozon", "yandex_market")
# each client's behaviour by its number: n − 1 mod 10 → behaviour; the slots not named are healthy
PLANTED = {
    0: "withdraws_stock",
    1: "reservation_spike",
    2: "inbound_stops",
    3: "seasonal_trap",
    4: "fbo_supply_trap",
    9: "fbo_reserved_trap",  # reserves a big share of its stock, then ships it to a marketplace's warehouse
}
CHURN = {"withdraws_stock", "reservation_spike", "inbound_stops"}
TRAPS = ("seasonal_trap", "fbo_supply_trap", "fbo_reserved_trap")
WITHDRAWAL_DAYS = 28
FBO_RESERVED_DAYS = 4  # days of reserving before the supply leaves for the marketplace
EVENT_DAYS_BEFORE_END = {
    "withdraws_stock": 45,
    "reservation_spike": 30,
    "inbound_stops": 90,
    "fbo_supply_trap": 50,
    "fbo_reserved_trap": 40,
}


@dataclass
class SimClient:
    wms_id: str
    name: str
    inn: str
    lead_id: str
    behaviour: str
    event_day: date | None
    skus: list[tuple[str, str, float]]
    daily_stock: list[int] = field(default_factory=list)
    orders: list[dict] = field(default_factory=list)
    receipts: list[dict] = field(default_factory=list)
    reservations: list[dict] = field(default_factory=list)


def _at(day: date, hour: int, minute: int = 0) -> str:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC).isoformat()


class WmsWorld:
    def __init__(self, clients: int = 30, days: int = 365, end: date | None = None, seed: int = 1):
        self.rng = random.Random(seed)
        self.end = end or get_settings().today()
        self.start = self.end - timedelta(days=days - 1)
        self.days = days
        self.clients = [self._client(i) for i in range(1, clients + 1)]
        self.by_id = {c.wms_id: c for c in self.clients}

    def day(self, index: int) -> date:
        return self.start + timedelta(days=index)

    def _season(self, d: date, strength: float, after_peak: float) -> float:
        peak = date(d.year if d.month >= 6 else d.year - 1, 12, 20)
        bump = strength * math.exp(-((((d - peak).days) / 18) ** 2))
        dip = after_peak if date(peak.year + 1, 1, 1) <= d <= date(peak.year + 1, 3, 1) else 1.0
        return (1 + bump) * dip

    def _client(self, n: int) -> SimClient:
        rng = self.rng
        # clients 1–5, 11–15, 21–25, … carry the planted behaviours; the rest are healthy
        behaviour = PLANTED.get((n - 1) % 10, "healthy")
        offset = EVENT_DAYS_BEFORE_END.get(behaviour)
        # the first of each kind at its nominal day (tests rely on it), later ones spread over three weeks; the trap
        # added last spreads without the shared random stream, so every other client of a seed stays as it was
        if behaviour == "fbo_reserved_trap":
            offset += 7 * (n // 10 - 1) % 22
        elif offset and n > 10:
            offset += rng.randint(0, 21)
        event_day = self.end - timedelta(days=offset) if offset else None
        skus = [
            (f"SKU-{n:04d}-{k:03d}", f"Товар {k} клиента {n}", rng.uniform(0.2, 1.0))
            for k in range(1, rng.randint(5, 40) + 1)
        ]
        total = sum(w for *_, w in skus)
        skus = [(s, name, w / total) for s, name, w in skus]
        c = SimClient(f"W{n:05d}", f"Селлер {n}", f"77{n:08d}", str(10000 + n), behaviour, event_day, skus)
        self._simulate(c, rng)
        return c

    def _simulate(self, c: SimClient, rng: random.Random) -> None:
        base = rng.uniform(20, 300)
        mix = [rng.random() + 0.1 for _ in MARKETPLACES]
        fbs_share = rng.uniform(0.05, 0.3)
        strength, after_peak = (2.5, 0.35) if c.behaviour == "seasonal_trap" else (rng.uniform(0.3, 0.9), 0.85)
        receipt_weekday = rng.randrange(7)
        # days of sales kept on the shelf; the client that stops supplying sells off two months of stock
        cover = 60 if c.behaviour == "inbound_stops" else 30
        stock = int(base * cover)
        inbound_open, withdrawn_target = True, 0

        def ship(day_index: int, suffix: str, kind: str, marketplace: str | None, hour: int, units: int) -> None:
            c.orders.append(
                {
                    "id": f"O{c.wms_id}-{day_index}-{suffix}",
                    "kind": kind,
                    "marketplace": marketplace,
                    "created_at": _at(self.day(day_index), hour),
                    "status": "shipped",
                    "units": units,
                }
            )

        for i in range(self.days):
            d = self.day(i)
            event = c.event_day is not None and d >= c.event_day
            if c.behaviour in ("withdraws_stock", "inbound_stops") and event:
                inbound_open = False
            season = self._season(d, strength, after_peak)
            out = min(stock, max(0, int(rng.gauss(base * season, base * season * 0.15))))
            if c.behaviour == "withdraws_stock" and event:
                out = min(stock, int(out * 0.3))
            stock -= out
            fbs = int(out * fbs_share)
            split = [int((out - fbs) * w / sum(mix)) for w in mix]
            split[-1] += out - fbs - sum(split)  # orders add up to what left the shelf
            for k, mp in enumerate(MARKETPLACES):
                if split[k]:
                    ship(i, str(k), "marketplace", mp, 10 + k, split[k])
            if fbs:
                ship(i, "f", "fbs", MARKETPLACES[0], 16, fbs)
            if c.behaviour == "withdraws_stock" and event and (d - c.event_day).days < WITHDRAWAL_DAYS and stock:
                if (d - c.event_day).days == 0:  # takes ~85% of its stock back, batch by batch, over four weeks
                    withdrawn_target = int(stock * 0.85)
                units = min(stock, withdrawn_target // WITHDRAWAL_DAYS + 1)
                stock -= units
                ship(i, "w", "withdrawal", None, 12, units)
            if c.behaviour == "reservation_spike" and event and (d - c.event_day).days >= 21 and stock:
                inbound_open = False  # what was reserved leaves: the client takes everything away
                units = stock if (d - c.event_day).days >= 24 else stock // 3
                stock -= units
                ship(i, "w", "withdrawal", None, 12, units)
            if c.behaviour == "fbo_supply_trap" and d == c.event_day:
                units = int(stock * 0.6)
                stock -= units
                ship(i, "fbo", "marketplace", "ozon", 13, units)
            if c.behaviour == "fbo_reserved_trap" and event and (d - c.event_day).days == FBO_RESERVED_DAYS:
                # what was reserved these days leaves as one supply to the marketplace's warehouse
                supply = [r for r in c.reservations if r["id"].endswith("-fbo") and r["status"] == "active"]
                units = min(stock, sum(r["units"] for r in supply))
                stock -= units
                ship(i, "fbo", "marketplace", "wildberries", 13, units)
                for r in supply:
                    r["status"] = "released"
            if inbound_open and d.weekday() == receipt_weekday:
                units = max(0, int(base * season * cover) - stock)
                if units:
                    stock += units
                    c.receipts.append({"id": f"R{c.wms_id}-{i}", "created_at": _at(d, 8), "units": units})
            if c.behaviour == "fbo_reserved_trap" and event and (d - c.event_day).days < FBO_RESERVED_DAYS:
                # no draw from the shared random stream: the other clients of a seed stay the same
                units = int(stock * 0.15)
                c.reservations.append(
                    {"id": f"S{c.wms_id}-{i}-fbo", "created_at": _at(d, 9), "units": units, "status": "active"}
                )
            spike = c.behaviour == "reservation_spike" and event
            if spike or rng.random() < 0.3:
                units = max(1, int(stock * (rng.uniform(0.1, 0.2) if spike else rng.uniform(0.005, 0.03))))
                status = "active" if (self.end - d).days < 7 or spike else "released"
                c.reservations.append(
                    {"id": f"S{c.wms_id}-{i}", "created_at": _at(d, 9), "units": units, "status": status}
                )
            c.daily_stock.append(stock)
        for events in (c.orders, c.receipts, c.reservations):
            events.sort(key=lambda e: (e["created_at"], e["id"]))

    def stock(self, c: SimClient, as_of: date) -> list[dict]:
        index = min(max((as_of - self.start).days, 0), self.days - 1)
        total = c.daily_stock[index]
        active = sum(
            r["units"] for r in c.reservations if r["status"] == "active" and r["created_at"][:10] <= as_of.isoformat()
        )
        # the end of that day, but never later than now («now» of Settings): a WMS does not report stock from the future
        now = get_settings().now().astimezone(UTC)
        as_of_at = min(datetime.fromisoformat(_at(self.day(index), 23, 59)), now).isoformat()
        rows = []
        for k, (sku, name, weight) in enumerate(c.skus):
            rows.append(
                {
                    "sku": sku,
                    "name": name,
                    "on_hand": int(total * weight),
                    "reserved": min(int(total * weight), active) if k == 0 else 0,
                    "as_of": as_of_at,
                }
            )
        return rows

    def exit_day(self, c: SimClient) -> date | None:
        """The day a churner is effectively gone: stock under 5% of what it held before the planted event."""
        if c.behaviour not in CHURN or c.event_day is None:
            return None
        start = (c.event_day - self.start).days
        before = c.daily_stock[max(start - 1, 0)]
        return next((self.day(i) for i in range(start, self.days) if c.daily_stock[i] < 0.05 * before), None)

    def truth(self) -> dict:
        out = {}
        for c in self.clients:
            gone = self.exit_day(c)
            out[c.wms_id] = {
                "lead_id": c.lead_id,
                "behaviour": c.behaviour,
                "churn": c.behaviour in CHURN,
                "from": c.event_day.isoformat() if c.event_day else None,
                "exit": gone.isoformat() if gone else None,
            }
        return out


class WmsSimulator(LocalHttpServer):
    """HTTP server on 127.0.0.1 for a WmsWorld; fault injection for tests (5xx, malformed page, bad records)."""

    def __init__(self, world: WmsWorld, *, token: str = "sim-token", host: str = "127.0.0.1", port: int = 0):
        super().__init__(host, port)
        self.world = world
        self.token = token
        self.fail_next = 0
        self.malformed_next = 0
        self.requests = 0
        self.items_served = 0

    def respond(self, method: str, path: str, headers: dict, body: bytes):
        status, payload = self.handle(path, headers.get("authorization"))
        return status, {"Content-Type": "application/json"}, payload

    def handle(self, raw_path: str, auth: str | None):
        self.requests += 1
        if auth != f"Bearer {self.token}":
            return 401, {"error": "unauthorized", "message": "invalid or missing bearer token"}
        if self.fail_next:
            self.fail_next -= 1
            return 502, {"error": "bad gateway"}
        url = urlparse(raw_path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        parts = url.path.strip("/").split("/")
        world = self.world
        if parts == ["clients"]:
            items = [{"id": c.wms_id, "name": c.name, "inn": c.inn} for c in world.clients]
        elif len(parts) == 3 and parts[0] == "clients" and parts[1] in world.by_id:
            c = world.by_id[parts[1]]
            if parts[2] == "stock":
                items = world.stock(c, date.fromisoformat(query["as_of"]) if "as_of" in query else world.end)
            elif parts[2] in ("orders", "receipts", "reservations"):
                items = getattr(c, parts[2])
                if "since" in query:
                    since = datetime.fromisoformat(query["since"]).astimezone(UTC).isoformat()
                    items = items[bisect.bisect_left([x["created_at"] for x in items], since) :]
            else:
                return 404, {"error": "not found"}
        else:
            return 404, {"error": "not found"}
        if self.malformed_next:
            self.malformed_next -= 1
            return 200, b'{"items": [{"id": "broken"'
        offset, limit = int(query.get("cursor") or 0), int(query.get("limit") or 100)
        page = items[offset : offset + limit]
        self.items_served += len(page)
        return 200, {"items": page, "next_cursor": str(offset + limit) if offset + limit < len(items) else None}


def write_truth(world: WmsWorld, path) -> None:
    path.write_text(json.dumps(world.truth(), ensure_ascii=False, indent=1), encoding="utf-8")
