"""core.batched: statements compiled once with slots give what their querysets give, several of them in
one round trip; other databases run the querysets themselves."""

import pytest
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext

import core.prepared
from core import batched
from inventory.models import DataCategory, Source, System, ThirdParty
from retention.models import RetentionSchedule
from tests.factories import ThirdPartyFactory

pytestmark = pytest.mark.django_db

_PROVIDED = batched.Statement(
    lambda kind, ids: (
        System.objects.filter(kind=kind, pk__in=ids).select_related("provider").order_by("code")
    ),
    batched.Slot("kind"),
    batched.ArraySlot("ids", of=System._meta.pk),
)


def _systems() -> tuple[System, System]:
    host = ThirdPartyFactory(legal_name="Hosting Co", kind="service_provider")
    external = System.objects.create(code="hostco", name="HostCo", kind="external", owner="IT", provider=host)
    internal = System.objects.get(code="privacyops")
    return external, internal


def _fields(objects) -> list[dict]:
    return [{f.attname: getattr(o, f.attname) for f in o._meta.concrete_fields} for o in objects]


def test_a_statement_gives_the_querysets_instances_with_their_related_objects():
    external, internal = _systems()
    ids = {external.pk, internal.pk}
    [found] = batched.fetch(_PROVIDED.bind(kind="external", ids=ids))
    expected = list(System.objects.filter(kind="external", pk__in=ids).select_related("provider"))
    assert _fields(found) == _fields(expected) and found[0].provider.legal_name == "Hosting Co"
    with CaptureQueriesContext(connection) as queries:
        assert found[0].provider == external.provider  # already loaded, as select_related does
        assert str(found[0]) == "HostCo"
    assert len(queries) == 0
    assert batched.fetch(_PROVIDED.bind(kind="external", ids=[])) == [[]]


@pytest.mark.postgres
def test_several_statements_are_one_round_trip_compiled_once():
    external, internal = _systems()
    schedules = batched.Statement(
        lambda: RetentionSchedule.objects.filter(active=True).select_related("category", "system")
    )
    batched.fetch(_PROVIDED.bind(kind="internal", ids=[internal.pk]))
    compiled = _PROVIDED.compiled()
    source_ids = list(Source.objects.values_list("pk", flat=True)[:2])
    with CaptureQueriesContext(connection) as queries:
        systems, named, nothing, active = batched.fetch(
            _PROVIDED.bind(kind="external", ids=[external.pk, internal.pk]),
            batched.with_ids(Source).bind(ids=source_ids),
            batched.with_ids(ThirdParty).bind(ids=set()),
            schedules.bind(),
        )
    assert len(queries) == 1
    assert _PROVIDED.compiled() is compiled  # the SQL is not compiled again
    assert [s.code for s in systems] == ["hostco"]
    assert len(named) == 2 and nothing == []
    expected = list(RetentionSchedule.objects.filter(active=True).select_related("category", "system"))
    assert _fields(active) == _fields(expected) and active
    assert [str(s) for s in active] == [str(s) for s in expected]
    assert {s.category.code for s in active} <= set(DataCategory.objects.values_list("code", flat=True))


@pytest.mark.postgres
def test_bound_server_side_each_statement_runs_on_its_own(monkeypatch):
    external, internal = _systems()
    monkeypatch.setattr(batched, "_binds_client_side", lambda connection: False)
    with CaptureQueriesContext(connection) as queries:
        systems, named = batched.fetch(
            _PROVIDED.bind(kind="external", ids=[external.pk, internal.pk]),
            batched.with_ids(ThirdParty).bind(ids=[external.provider_id]),
        )
    assert len(queries) == 2
    assert [s.code for s in systems] == ["hostco"] and [t.legal_name for t in named] == ["Hosting Co"]


def test_another_database_runs_the_queryset_with_the_values(monkeypatch):
    external, internal = _systems()
    monkeypatch.setattr(connection, "vendor", "other")
    assert _PROVIDED.compiled() is None
    [found] = batched.fetch(_PROVIDED.bind(kind="external", ids={external.pk, internal.pk}))
    assert [s.code for s in found] == ["hostco"]


def test_a_statement_wants_exactly_its_slots():
    with pytest.raises(TypeError):
        _PROVIDED.bind(kind="external")


# --- prepared once per session (core.prepared) --------------------------------------------------------


@pytest.fixture
def _own_session():
    """A new session before and after (the statements below are lost or forgotten on purpose)."""
    connection.close()
    yield
    connection.close()


def _batch_statements() -> dict[str, int]:
    """This session's batch statements: name -> how often they ran (plans used)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, generic_plans + custom_plans FROM pg_prepared_statements"
            " WHERE name LIKE 'privacyops_batch_%%'"
        )
        return dict(cursor.fetchall())


def _two(external: System) -> tuple[list, list]:
    systems, named = batched.fetch(
        _PROVIDED.bind(kind="external", ids=[external.pk]),
        batched.with_ids(ThirdParty).bind(ids=[external.provider_id]),
    )
    assert [s.code for s in systems] == ["hostco"] and [t.legal_name for t in named] == ["Hosting Co"]
    return systems, named


def _names() -> list[str]:
    return [_PROVIDED.compiled().name, batched.with_ids(ThirdParty).compiled().name]


@pytest.mark.parametrize("on", [True, False])
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("_own_session")
def test_statements_are_prepared_once_per_session_unless_turned_off(settings, on):
    settings.BATCHED_PREPARED_STATEMENTS = on
    external, _ = _systems()
    with CaptureQueriesContext(connection) as queries:
        _two(external)
        _two(external)
    assert len(queries) == 2 and ("PREPARE" in queries[0]["sql"]) is on
    assert "PREPARE" not in queries[1]["sql"]
    assert _batch_statements() == ({name: 2 for name in _names()} if on else {})


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("_own_session")
def test_statements_the_session_lost_or_never_counted_are_found_out_and_prepared_again():
    external, _ = _systems()
    _two(external)
    first, second = _names()
    with connection.cursor() as cursor:
        cursor.execute(f"DEALLOCATE {first}")  # lost one of the two (outside a transaction)
    _two(external)
    assert _batch_statements() == {first: 1, second: 2}

    core.prepared.forget(connection.connection, first, second)  # held, but not counted
    _two(external)
    assert _batch_statements() == {first: 2, second: 3}

    with connection.cursor() as cursor:
        cursor.execute(f"DEALLOCATE {second}")
    with pytest.raises(DatabaseError) as caught, transaction.atomic():
        _two(external)  # inside a transaction the error stands
    assert core.prepared.is_lost(caught.value)
    _two(external)  # the next call asks the session first
    assert _batch_statements() == {first: 4, second: 1}  # first ran in the failed string too
