"""Fides dataset files: parsed, validated by line, imported and exported unchanged, checked against the schema."""

import pytest
import sqlalchemy as sa
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError

from connectors import demo, fides, sql
from connectors.graph import build
from connectors.models import Dataset
from connectors.services import connection_save, dataset_check, dataset_export, dataset_import
from inventory.models import System

OLD_STYLE = """\
dataset:
  - fides_key: legacy
    collections:
      - name: users
        fields:
          - name: id
            fidesops_meta:
              primary_key: True
          - name: email
            data_categories: [user.contact.email]
            fidesops_meta:
              identity: email
      - name: visits
        fields:
          - name: id
            fidesops_meta: {primary_key: True}
          - name: user_id
            fidesops_meta:
              references:
                - {dataset: legacy, field: users.id, direction: from}
"""


def test_shipped_demo_dataset_parses_with_identities_and_references():
    ds = fides.parse_one(demo.dataset_text())
    assert ds.identities() == {"email", "phone_number", "customer_reference"}
    assert ds.collections["orders"].fields["customer_id"].references[0] == fides.Reference(
        "demo_crm", "customers", "id", "from"
    )
    assert ds.collections["customers"].primary_key == ["id"]


def test_older_fidesops_meta_files_are_read_the_same_way():
    ds = fides.parse_one(OLD_STYLE)
    assert ds.collections["users"].fields["email"].identity == "email"
    assert ds.collections["visits"].fields["user_id"].references[0].collection == "users"


def test_errors_are_listed_by_line():
    bad = OLD_STYLE.replace("field: users.id", "field: users.missing").replace(
        "direction: from}", "direction: sideways}"
    )
    with pytest.raises(fides.DatasetError) as exc:
        fides.parse(bad)
    assert exc.value.errors == [(20, "reference direction must be `from` or `to`, not 'sideways'")]
    with pytest.raises(fides.DatasetError) as exc:
        fides.parse(OLD_STYLE.replace("field: users.id", "field: users.missing"))
    assert exc.value.errors == [(20, "visits.user_id references unknown field users.missing")]


def test_broken_yaml_reports_its_line():
    with pytest.raises(fides.DatasetError) as exc:
        fides.parse("dataset:\n  - fides_key: x\n    collections: [\n")
    assert exc.value.errors[0][0] == 4
    assert "not valid YAML" in exc.value.errors[0][1]


def test_fides_categories_map_to_ours_by_longest_prefix_with_overrides():
    assert fides.category_for("user.contact.email") == "contact"
    assert fides.category_for("user.behavior.browsing_history") == "activity"
    assert fides.category_for("user.contact.email", {"user.contact.email": "marketing"}) == "marketing"
    assert fides.category_for("system.operations") is None


def test_paths_show_what_each_identity_reaches():
    paths = build([fides.parse_one(demo.dataset_text())]).paths()
    assert ["identity:email", "customers.email", "orders.customer_id", "order_lines.order_id"] in paths
    assert ["identity:email", "customers.email", "tickets.customer_id", "ticket_messages.ticket_id"] in paths
    assert ["identity:email", "newsletter_subscriptions.email"] in paths


@pytest.mark.django_db
def test_import_keeps_the_file_byte_for_byte_and_export_returns_it():
    system = System.objects.create(code="legacy", name="Legacy", kind="external", owner="IT")
    dataset_import(system=system, text=OLD_STYLE, actor="test")
    assert dataset_export(system=system) == OLD_STYLE
    assert Dataset.objects.get().fides_key == "legacy"


@pytest.mark.django_db
def test_import_refuses_an_unknown_erase_target_and_saves_nothing():
    system = System.objects.create(code="legacy", name="Legacy", kind="external", owner="IT")
    with pytest.raises(ValidationError) as exc:
        dataset_import(system=system, text=OLD_STYLE, erase={"users.nickname": "hash"}, actor="test")
    assert "erase: unknown field 'users.nickname'" in exc.value.messages
    assert not Dataset.objects.exists()


@pytest.mark.django_db
def test_import_and_export_commands_round_trip(tmp_path, capsys):
    System.objects.create(code="legacy", name="Legacy", kind="external", owner="IT")
    src = tmp_path / "legacy.yml"
    src.write_text(OLD_STYLE)
    call_command("dataset_import", "legacy", str(src), "--erase", "visits=delete")
    assert Dataset.objects.get().erase == {"visits": "delete"}
    out = tmp_path / "out.yml"
    call_command("dataset_export", "legacy", "-o", str(out))
    assert out.read_text() == OLD_STYLE


@pytest.mark.django_db
def test_import_command_fails_with_the_lines_of_a_bad_file(tmp_path):
    System.objects.create(code="legacy", name="Legacy", kind="external", owner="IT")
    src = tmp_path / "bad.yml"
    src.write_text(OLD_STYLE.replace("field: users.id", "field: users.missing"))
    with pytest.raises(CommandError, match="line 20: visits.user_id references unknown field users.missing"):
        call_command("dataset_import", "legacy", str(src))
    with pytest.raises(CommandError, match="No system with code 'nope'"):
        call_command("dataset_import", "nope", str(src))


@pytest.mark.django_db
def test_check_passes_on_the_shipped_schema(crm_system):
    report = dataset_check(system=crm_system)
    assert report.errors == []
    assert report.warnings == []


@pytest.mark.django_db
def test_check_names_missing_tables_and_columns(crm_system):
    text = (
        demo.dataset_text()
        .replace("- name: job_title", "- name: job_titel")
        .replace("- name: invoices", "- name: invoice")
    )
    dataset_import(system=crm_system, text=text, actor="test")
    report = dataset_check(system=crm_system)
    assert "column contacts.job_titel does not exist" in report.errors
    assert "table 'invoice' does not exist" in report.errors


@pytest.mark.django_db
def test_check_warns_with_the_create_index_for_an_unindexed_identity(crm_system, crm_url):
    engine = sa.create_engine(sql.normalize_url(crm_url), poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        if engine.dialect.name == "mysql":
            conn.execute(sa.text("DROP INDEX ix_newsletter_subscriptions_email ON newsletter_subscriptions"))
        else:
            conn.execute(sa.text("DROP INDEX ix_newsletter_subscriptions_email"))
    engine.dispose()
    report = dataset_check(system=crm_system)
    assert report.warnings == [
        "newsletter_subscriptions.email is looked up by identity or reference but has no index: "
        "CREATE INDEX newsletter_subscriptions_email_idx ON newsletter_subscriptions (email);"
    ]


@pytest.mark.django_db
def test_check_refuses_null_on_a_not_null_column(crm_system):
    dataset_import(system=crm_system, text=demo.dataset_text(), erase={}, actor="test")
    errors = dataset_check(system=crm_system).errors
    assert "customers.name is NOT NULL: erase it with 'hash' or delete the row" in errors


@pytest.mark.django_db
def test_check_command_exits_non_zero_on_errors(crm_system, capsys):
    call_command("dataset_check", crm_system.code, "--paths")
    assert "customers.email -> orders.customer_id -> order_lines.order_id" in capsys.readouterr().out
    text = demo.dataset_text().replace("- name: sku", "- name: skew")
    dataset_import(system=crm_system, text=text, erase=demo.DEMO_ERASE, actor="t")
    with pytest.raises(CommandError, match="1 error"):
        call_command("dataset_check", crm_system.code)


@pytest.mark.django_db
def test_a_dead_database_gives_a_clear_error(tmp_path):
    system = System.objects.create(code="dead", name="Dead", kind="external", owner="IT")
    connection_save(system=system, kind="sql", url="postgresql://nobody@127.0.0.1:1/none", actor="test")
    dataset_import(system=system, text=demo.dataset_text(), actor="test")
    with pytest.raises(CommandError, match="SystemUnavailable|could not inspect|did not answer"):
        call_command("dataset_check", "dead")
    with pytest.raises(CommandError, match="did not answer"):
        call_command("system_access", "dead", "--identity", "email=jane@example.com")
