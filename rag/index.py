"""The RAG index in LanceDB: one table of chunks (text, vector, metadata), native Russian full-text index, bitmap
index on client_id. Every search is filtered by client_id (prefilter), optionally by time.

LanceDB keeps versions, so the app and the CLI can read while the index asset writes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

# lancedb, pyarrow and numpy are imported where used: LanceDB alone is a second of start-up, and the code location
# (every Dagster step process) imports this module without searching
if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

TABLE = "chunks"


class IndexOutdated(ValueError):
    """The index on disk was built by another embedder or layout; the next rag_index update rebuilds it."""


def schema(dim: int) -> pa.Schema:
    import pyarrow as pa

    return pa.schema(
        [
            pa.field("chunk_id", pa.string(), nullable=False),  # <source ref>#<n>
            pa.field("client_id", pa.string(), nullable=False),
            pa.field(
                "source", pa.string()
            ),  # meeting | meeting_summary | telegram | email | call | profile | wms | tone
            pa.field("source_ref", pa.string()),  # the original: meeting:<id>, telegram:<chat>:<msg>, bitrix:<id>, …
            pa.field("deep_ref", pa.string()),  # the exact place: meeting:<id>@<seconds>, telegram:<chat>:<a>-<b>, …
            pa.field("occurred_at", pa.timestamp("us")),  # local time of the team
            pa.field("author", pa.string()),
            pa.field("title", pa.string()),
            pa.field("text", pa.string()),
            # title + text, what full-text search reads: a title names the kind and the subject («Письмо
            # „Претензия по браку“», «Встреча …») that the text itself seldom repeats
            pa.field("search_text", pa.string()),
            pa.field("content_hash", pa.string()),
            pa.field("vector", pa.list_(pa.float32(), dim)),
        ]
    )


def _quote(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _many(value: str | list[str] | tuple[str, ...]) -> list[str]:
    return [value] if isinstance(value, str) else list(value) or [""]


def _where(client_id: str, start: datetime | None, end: datetime | None) -> str:
    where = f"client_id = {_quote(client_id)}"
    if start is not None:
        where += f" AND occurred_at >= timestamp {_quote(start.isoformat(sep=' '))}"
    if end is not None:
        where += f" AND occurred_at < timestamp {_quote(end.isoformat(sep=' '))}"
    return where


HIT_COLUMNS = ["chunk_id", "client_id", "source", "source_ref", "deep_ref", "occurred_at", "author", "title", "text"]


@dataclass
class Hit:
    chunk_id: str
    client_id: str
    source: str
    source_ref: str
    deep_ref: str
    occurred_at: datetime | None
    author: str | None
    title: str | None
    text: str
    score: float
    quote: str | None = None  # the sentence an intent looked this passage up for (a profile fact said here)


def window_of(hit: Hit) -> int:
    """chunk ids are <source_ref>#<n> (rag/chunks.py): n orders the windows of one original."""
    return int(hit.chunk_id.rpartition("#")[2])


def profile_kind(hit: Hit) -> str:
    """The kind of a profile passage: its source_ref is profile:<client>:<kind>:… (rag/chunks.py)."""
    return hit.source_ref.split(":")[2]


class RagIndex:
    def __init__(self, path: Path, dim: int):
        os.environ.setdefault("LANCEDB_LOG", "error")  # the Rust side's deprecation notices are not for the user
        import lancedb

        path.mkdir(parents=True, exist_ok=True)
        # one handle for every read; interval 0 makes each read see what another process (the index asset) committed
        self.db = lancedb.connect(str(path), read_consistency_interval=timedelta(0))
        self.dim = dim
        self._names = schema(dim).names
        self._open = None

    def table(self, create: bool = True):
        """The chunks table. A table of another layout or vector size (an older version, another embedder) is
        dropped when writing — the index asset then embeds every passage anew — and refused with the reason when
        only reading."""
        if self._open is not None:
            try:  # the table may have been dropped and built anew by another process since
                if self._fits(self._open):
                    return self._open
            except Exception:  # noqa: BLE001 — any failure of the old handle: open the table again
                pass
            self._open = None
        if TABLE in self.db.table_names():
            tbl = self.db.open_table(TABLE)
            if self._fits(tbl):
                self._open = tbl
                return tbl
            if not create:
                built, width = "прежней версией программы", tbl.schema.field("vector").type.list_size
                if width != self.dim:
                    built = f"с векторами размерности {width}, а настроено {self.dim}"
                raise IndexOutdated(
                    f"Индекс построен {built}: он пересоберётся сам при следующем обновлении rag_index "
                    "(client360 demo или запуск в Dagster)"
                )
            self.db.drop_table(TABLE)
            self._open = None
        if not create:
            return None
        self._open = self.db.create_table(TABLE, schema=schema(self.dim))
        return self._open

    def _fits(self, tbl) -> bool:
        """The table has this index's layout and vector size (read once per call: each read costs a manifest check)."""
        found = tbl.schema
        return found.names == self._names and found.field("vector").type.list_size == self.dim

    def existing(self) -> dict[str, str]:
        """chunk_id → content_hash of what is indexed now."""
        tbl = self.table(create=False)
        if tbl is None or tbl.count_rows() == 0:
            return {}
        data = tbl.search().select(["chunk_id", "content_hash"]).limit(tbl.count_rows()).to_arrow()
        return dict(zip(data["chunk_id"].to_pylist(), data["content_hash"].to_pylist(), strict=True))

    def upsert(self, rows: list[dict]) -> None:
        if not rows:
            return
        import pyarrow as pa

        tbl = self.table()
        rows = [{**r, "search_text": f"{r.get('title') or ''}\n{r['text']}"} for r in rows]
        data = pa.Table.from_pylist(rows, schema=schema(self.dim))
        tbl.merge_insert("chunk_id").when_matched_update_all().when_not_matched_insert_all().execute(data)

    def delete(self, chunk_ids: list[str]) -> None:
        tbl = self.table(create=False)
        for i in range(0, len(chunk_ids), 500):
            tbl.delete("chunk_id IN (" + ", ".join(_quote(c) for c in chunk_ids[i : i + 500]) + ")")

    def ensure_indices(self, changed: bool) -> None:
        """Full-text (Russian Snowball stems of title + text), client_id, source and source_ref indices; new rows are
        folded in by optimize(). Measured on eval-rag (522 questions): a column of pymorphy3 lemmas found no more than
        stems of the raw text (Recall@5 0.71 against 0.72; promises 0.78 against 0.85); stems of title + text gave
        0.75."""
        tbl = self.table()
        names = {i.name for i in tbl.list_indices()}
        if tbl.count_rows() == 0:
            return
        if "search_text_idx" not in names:
            tbl.create_fts_index(
                "search_text",
                use_tantivy=False,
                language="Russian",
                stem=True,
                remove_stop_words=True,
                ascii_folding=True,
                replace=True,
            )
        if "client_id_idx" not in names:
            tbl.create_scalar_index("client_id", index_type="BITMAP", replace=True)
        # the intents read a client's passages by kind and by original: without these each such read scans the
        # client's rows (about 15 and 27 ms at 1M chunks against 5 ms)
        if "source_idx" not in names:
            tbl.create_scalar_index("source", index_type="BITMAP", replace=True)
        if "source_ref_idx" not in names:
            tbl.create_scalar_index("source_ref", index_type="BTREE", replace=True)
        if changed:
            tbl.optimize()

    def count(self) -> int:
        tbl = self.table(create=False)
        return tbl.count_rows() if tbl is not None else 0

    def search(
        self,
        client_id: str,
        vector: np.ndarray,
        text: str,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = 20,
    ) -> list[Hit]:
        tbl = self.table(create=False)
        if tbl is None:
            return []
        if text.strip():
            query = tbl.search(query_type="hybrid", fts_columns="search_text").vector(vector.tolist()).text(text)
        else:
            query = tbl.search(vector.tolist(), query_type="vector")
        rows = query.where(_where(client_id, start, end), prefilter=True).select(HIT_COLUMNS).limit(limit).to_list()
        return [
            Hit(**{c: r.get(c) for c in HIT_COLUMNS}, score=float(r.get("_relevance_score", 1 - r.get("_distance", 1))))
            for r in rows
        ]

    def passages(
        self,
        client_id: str,
        *,
        source_ref: str | list[str] | None = None,
        source_ref_prefix: str | None = None,
        source: str | tuple[str, ...] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = 2000,
    ) -> list[Hit]:
        """The client's passages of one original (or one source in a period), in the order they were said."""
        tbl = self.table(create=False)
        if tbl is None:
            return []
        where = _where(client_id, start, end)
        if source_ref is not None:
            where += f" AND source_ref IN ({', '.join(map(_quote, _many(source_ref)))})"
        if source_ref_prefix is not None:
            where += f" AND starts_with(source_ref, {_quote(source_ref_prefix)})"
        if source is not None:
            where += f" AND source IN ({', '.join(map(_quote, _many(source)))})"
        rows = tbl.search().where(where).select(HIT_COLUMNS).limit(limit).to_list()
        hits = [Hit(**{c: r.get(c) for c in HIT_COLUMNS}, score=1.0) for r in rows]
        return sorted(hits, key=lambda h: (h.occurred_at or datetime.min, h.source_ref, window_of(h)))

    def fts(self, client_id: str, text: str, limit: int = 20) -> list[str]:
        """chunk_ids that share words (stems) with the text — to tell «nothing in the data» from weak matches."""
        tbl = self.table(create=False)
        if tbl is None or not text.strip():
            return []
        rows = (
            tbl.search(text, query_type="fts", fts_columns="search_text")
            .where(f"client_id = {_quote(client_id)}", prefilter=True)
            .select(["chunk_id"])
            .limit(limit)
            .to_list()
        )
        return [r["chunk_id"] for r in rows]
