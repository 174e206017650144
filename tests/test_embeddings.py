"""The embedded Russian retrieval: lemmas and stems (rag/text.py), the local embedder on navec word vectors (words
alike in meaning land near each other, unknown words add nothing, one size), and an index built by another embedder
rebuilt by the rag_index asset on its own."""

from datetime import datetime

import dagster as dg
import numpy as np
import pytest

from assets.rag.assets import rag_index
from config.settings import get_settings
from orchestration.resources import all_resources
from rag.embeddings import LOCAL_DIM, LocalEmbedder
from rag.index import IndexOutdated, RagIndex
from rag.text import STOP_WORDS, lemmas, terms, tokens
from tests.conftest import build_views, metadata_of
from warehouse.duck import connect

# general words, none of them from the demo's texts
COMPLAINT = ["претензия", "жалоба", "недовольство", "недоволен", "штраф", "санкции"]
UNRELATED = ["пирог", "погода", "гитара", "океан", "бабочка", "стадион"]


@pytest.fixture(scope="module")
def embedder():
    return LocalEmbedder()


def test_forms_of_a_word_share_one_lemma_and_function_words_are_dropped():
    assert set(terms("претензии претензию претензией претензиями")) == {"претензия"}
    assert terms("Он жаловался, что они жалуются") == ["жаловаться", "жаловаться"]
    assert lemmas("Ещё один ёжик") == ["еще", "один", "ежик"]  # «ё» read as «е»
    assert not set(terms("и в на что как это было бы у них")) - {"это"}
    assert "быть" in STOP_WORDS or "был" in STOP_WORDS
    assert tokens("FBS-отгрузка №12, Ozon!") == ["fbs", "отгрузка", "12", "ozon"]


def test_a_word_the_dictionary_does_not_know_is_stemmed_so_its_forms_still_meet():
    forms = ["фулфилмаркетов", "фулфилмаркетами", "фулфилмаркетах"]  # a made-up brand in three cases
    assert len(set(terms(" ".join(forms)))) == 1
    assert terms("фулфилмаркетами")[0] != "фулфилмаркетами"


def test_words_alike_in_meaning_are_nearer_to_each_other_than_to_unrelated_ones(embedder):
    group, other = embedder.embed(COMPLAINT), embedder.embed(UNRELATED)
    within = group @ group.T
    np.fill_diagonal(within, -np.inf)
    across = group @ other.T
    for i, word in enumerate(COMPLAINT):
        assert within[i].max() > across[i].max(), f"{word}: its nearest word is an unrelated one"
    assert within[np.isfinite(within)].mean() > across.mean() + 0.05


def test_sentences_worded_differently_meet_by_meaning(embedder):
    complaint, claim, pie, weather = embedder.embed(
        [
            "Покупатель написал жалобу на качество обслуживания",
            "Магазин выставил поставщику претензию и потребовал компенсацию",
            "Мы испекли яблочный пирог к чаю",
            "Завтра ожидается солнечная погода без осадков",
        ]
    )
    assert complaint @ claim > max(complaint @ pie, complaint @ weather, claim @ pie, claim @ weather) + 0.1


def test_vectors_are_unit_length_and_a_text_of_unknown_words_only_is_zero(embedder):
    vectors = embedder.embed(["Доставка задерживается на два дня", "рекламация 12345 qwzxv", ""])
    assert vectors.shape == (3, LOCAL_DIM) and vectors.dtype == np.float32
    assert np.linalg.norm(vectors[0]) == pytest.approx(1.0, abs=1e-5)
    assert not vectors[1].any() and not vectors[2].any()
    # unknown words and numbers add nothing: the known word alone gives the same direction
    mixed, alone = embedder.embed(["штраф 12345 qwzxv", "штраф"])
    assert mixed @ alone == pytest.approx(1.0, abs=1e-5)


def test_a_form_missing_from_the_vectors_is_looked_up_by_its_lemma(embedder):
    vocabulary = embedder._words.ids
    form, lemma = "оштрафовавшими", "оштрафовать"  # a rare participle of a common verb
    assert form not in vocabulary and lemma in vocabulary
    a, b = embedder.embed([form, lemma])
    assert a @ b == pytest.approx(1.0, abs=1e-5)


def test_batches_give_the_same_vectors_as_one_text_at_a_time(embedder):
    texts = [f"Партия {i}: пересорт и возвраты, клиент недоволен сроками" for i in range(600)]
    together = embedder.embed(texts)
    assert np.allclose(together[[0, 300, 599]], embedder.embed([texts[0], texts[300], texts[599]]), atol=1e-6)


def test_the_local_embedder_has_one_size():
    with pytest.raises(ValueError, match="C360_EMBED_DIM=1024: локальные эмбеддинги .* размерность 300"):
        LocalEmbedder(1024)


def row(chunk_id: str, client: str, text: str, vector) -> dict:
    return {
        "chunk_id": chunk_id,
        "client_id": client,
        "source": "telegram",
        "source_ref": chunk_id.partition("#")[0],
        "deep_ref": chunk_id.partition("#")[0],
        "occurred_at": datetime(2026, 11, 20, 10, 0),
        "author": "Ольга",
        "title": "Telegram",
        "text": text,
        "content_hash": "old",
        "vector": list(vector),
    }


def test_the_vector_search_finds_a_passage_by_a_question_sharing_no_word_with_it(env, embedder):
    index = RagIndex(env.rag_path, LOCAL_DIM)
    texts = {
        "telegram:1:1#0": "Выставили претензию из-за брака в последней партии",
        "telegram:1:2#0": "Обсудили график отгрузок на декабрь",
        "telegram:1:3#0": "Пришлите, пожалуйста, реквизиты для счёта",
    }
    vectors = embedder.embed(list(texts.values()))
    index.upsert([row(c, "1", t, v) for (c, t), v in zip(texts.items(), vectors, strict=True)])
    index.ensure_indices(changed=True)
    question = "На что жаловались покупатели?"
    [best, *_] = index.search("1", embedder.embed([question])[0], "", limit=3)
    assert best.chunk_id == "telegram:1:1#0"


def test_a_table_of_an_older_layout_is_refused_when_reading_and_recreated_when_writing(env):
    import lancedb
    import pyarrow as pa

    from rag.index import TABLE, schema

    older = pa.schema([f for f in schema(LOCAL_DIM) if f.name != "search_text"])
    lancedb.connect(str(env.rag_path)).create_table(TABLE, schema=older)
    index = RagIndex(env.rag_path, LOCAL_DIM)
    with pytest.raises(IndexOutdated, match="прежней версией программы: он пересоберётся сам"):
        index.count()
    assert index.table().schema.names == schema(LOCAL_DIM).names and index.count() == 0


def test_an_index_built_by_another_embedder_is_rebuilt_by_the_asset(env, instance):
    with connect(env.warehouse_path) as con:
        con.execute(
            "insert into raw.telegram_chats (chat_id, title, client_id, mapped_by) values (-1, 'c', '10001', 'alias')"
        )
        con.execute(
            "insert into raw.telegram_messages (chat_id, message_id, sent_at, sender_name, direction, kind, text, "
            "source) values (-1, 1, '2026-11-21 09:00', 'Ольга', 'client', 'message', "
            "'Опять пересорт, мы недовольны', 'export')"
        )
    build_views(instance)
    # what an older version left: 1024-d vectors of the hashed embedder
    old = RagIndex(env.rag_path, 1024)
    old.upsert([row("telegram:-1:1-1#0", "10001", "старое", np.ones(1024) / 32)])
    with pytest.raises(IndexOutdated, match="размерности 1024.*пересоберётся сам"):
        RagIndex(env.rag_path, LOCAL_DIM).search("10001", np.zeros(LOCAL_DIM), "")

    result = dg.materialize([rag_index], resources=all_resources(), instance=instance)
    meta = metadata_of(result, "rag_index")
    assert meta["добавлено или изменено"] == meta["фрагментов в индексе"] >= 1
    index = RagIndex(env.rag_path, get_settings().embed_dim)
    assert index.table().schema.field("vector").type.list_size == LOCAL_DIM
    hits = index.search("10001", LocalEmbedder().embed(["жалоба"])[0], "пересорт")
    assert hits and "пересорт" in hits[0].text

    # same size, rows written without the embedder in their hash (an older version): all embedded anew
    tbl = index.table()
    tbl.update(where="true", values={"content_hash": "old"})
    again = metadata_of(dg.materialize([rag_index], resources=all_resources(), instance=instance), "rag_index")
    assert again["добавлено или изменено"] == again["фрагментов в индексе"]
    assert (
        metadata_of(dg.materialize([rag_index], resources=all_resources(), instance=instance), "rag_index")[
            "добавлено или изменено"
        ]
        == 0
    )
