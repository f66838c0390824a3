"""core.batched: statements compiled once with slots give what their querysets give, several of them in
one round trip; other databases run the querysets themselves."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

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
    monkeypatch.setattr(batched, "_binds_client_side", lambda cursor: False)
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
