"""Issue 14 item 11: every field of every registered model has an export decision, and access packages
leave out what is not the person's data (credentials, tokens, idempotency keys, mail headers, staff)."""

from inventory import export_policy
from inventory.registry import registry


def test_every_field_of_every_registered_model_has_an_export_decision():
    undecided = {
        entry.label: export_policy.undecided_fields(
            entry.label, [f.name for f in entry.model._meta.concrete_fields]
        )
        for entry in registry
    }
    undecided = {label: names for label, names in undecided.items() if names}
    assert undecided == {}, f"Decide in inventory/export_policy.py whether these are exported: {undecided}"


def test_a_new_field_without_a_decision_is_reported_and_a_decision_never_contradicts_itself():
    assert export_policy.undecided_fields("inventory.UserAccount", ["username", "new_secret"]) == [
        "new_secret"
    ]
    for label, never in export_policy.NEVER_EXPORTED.items():
        assert not set(never) & export_policy.EXPORTED.get(label, frozenset()), label
        assert all(reason.strip() for reason in never.values())


def test_the_registry_marks_credentials_tokens_keys_headers_and_staff_as_never_exported():
    never = {entry.label: entry.never_exported for entry in registry}
    assert "password_hash" in never["inventory.UserAccount"]
    assert {"idempotency_key", "headers", "claim_token", "requested_by"} <= never["notices.Notice"]
    assert {"actor_label", "client_event_id"} <= never["consent.ConsentEvent"]
    assert {"actor_label"} <= never["requests_app.CaseEvent"]
    assert {"assignee"} <= never["requests_app.PrivacyRequest"]
