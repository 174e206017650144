"""A note written in the app reaches the warehouse, the client's timeline and the search index within one tick of
the notes sensor; an edit replaces it there, a deletion removes it everywhere."""

import dagster as dg

from config.settings import get_settings
from orchestration.definitions import build_defs
from orchestration.run_once import QUIET_CONSOLE, quiet_stdout
from rag.answer import build_engine
from warehouse.appdb import AppDB
from warehouse.duck import connect, fetch_dicts
from warehouse.staff import Staff

CURSOR: dict[str, str | None] = {}


def tick(instance) -> bool:
    """One evaluation of the notes sensor, and the run it asks for (what the daemon does)."""
    defs = build_defs()  # with the resources of this test's settings
    sensor = defs.get_sensor_def("notes_sensor")
    context = dg.build_sensor_context(
        instance=instance, cursor=CURSOR.get(id(instance)), definitions=defs, resources=defs.resources
    )
    result = sensor(context)
    if not isinstance(result, dg.RunRequest):
        return False
    CURSOR[id(instance)] = context.cursor
    with quiet_stdout():
        run = defs.resolve_job_def("notes_job").execute_in_process(instance=instance, run_config=QUIET_CONSOLE)
    assert run.success
    assert run.asset_materializations_for_node("rag_index"), "the index is updated in every run"
    return True


def timeline_notes(settings) -> list[dict]:
    with connect(settings.warehouse_path, read_only=True) as con:
        return fetch_dicts(
            con,
            "select client_id, kind, title, summary, ref from marts.fct_client_timeline "
            "where source = 'notes' order by ref",
        )


def test_a_note_reaches_timeline_and_search_in_one_tick(env, instance):
    settings = get_settings()
    staff = Staff(AppDB(settings.resolved_app_db_url))
    anna = staff.add("anna", "curator", "пароль-анны-1", bitrix_user_id=1)
    assert not tick(instance), "no notes, no run"

    note = staff.add_note(anna, "10234", "Клиент планирует переехать на склад в Казани весной")
    assert tick(instance)
    [row] = timeline_notes(settings)
    assert row["client_id"] == "10234" and row["kind"] == "заметка" and "Казани" in row["summary"]
    assert row["ref"] == f"note:{note}" and row["title"] == "Заметка: anna"
    answer = [p for p in build_engine(settings).ask("10234", "Куда клиент планирует переехать?", settings.today())][-1]
    assert answer.found and answer.citations[0].source == "note" and answer.citations[0].source_id == f"note:{note}"
    assert not tick(instance), "nothing new: no run"

    staff.edit_note(anna, note, "Клиент планирует переехать на склад в Казани летом")
    assert tick(instance)
    [row] = timeline_notes(settings)
    assert "летом" in row["summary"]

    staff.delete_note(anna, note)
    assert tick(instance)
    assert timeline_notes(settings) == []
    gone = [p for p in build_engine(settings).ask("10234", "Куда клиент планирует переехать?", settings.today())][-1]
    assert not gone.found
