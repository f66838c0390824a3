"""Issue 15 item 11: Fernet-era values are re-sealed as AES-256-GCM bound to their row, in resumable batches."""

import base64
import io
import uuid

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import DatabaseError, transaction

from consent.models import Channel, ConsentEvent
from consent.selectors import event_evidence
from consent.services import consent_grant
from inventory import crypto, reseal
from inventory.models import DataKey, SurveyResponse, UserAccount
from inventory.services import record_reveal, subject_destroy_data_key
from tests.factories import make_full_subject


def _legacy(subject_id: int, plaintext: str) -> str:
    """What the former seal() wrote: a Fernet token under the subject's data key, bound to nothing."""
    wrapped = DataKey.objects.get(subject_id=subject_id).wrapped
    return Fernet(crypto.master().decrypt(wrapped.encode())).encrypt(plaintext.encode()).decode()


def _legacy_consent_event(subject_id: int, evidence_json: str) -> ConsentEvent:
    """A ledger row as written before the change (an INSERT: the ledger takes no UPDATE)."""
    model = consent_grant(subject_id=subject_id, purpose="marketing_email", channel=Channel.WEB_FORM)
    values = ConsentEvent.objects.filter(pk=model.pk).values().get()
    values.update(id=None, public_id=uuid.uuid4(), client_event_id=f"legacy-{uuid.uuid4()}")
    values["evidence"] = _legacy(subject_id, evidence_json)
    return ConsentEvent.objects.create(**values)


def _make_legacy_world():
    kept, shredded = make_full_subject(), make_full_subject()
    for subject in (kept, shredded):
        UserAccount.objects.filter(subject=subject).update(
            payment_method_reference=_legacy(subject.pk, f"tok_{subject.pk}_visa")
        )
        SurveyResponse.objects.filter(subject=subject).update(answer=_legacy(subject.pk, "old answer"))
    event = _legacy_consent_event(kept.pk, '{"ip_network":"203.0.113.0/24"}')
    assert crypto.is_legacy(event.evidence)
    subject_destroy_data_key(subject_id=shredded.pk, reason="erasure test")
    return kept, shredded, event


@pytest.mark.django_db
def test_the_command_reseals_legacy_values_bound_to_their_rows_and_leaves_shredded_ones():
    kept, shredded, event = _make_legacy_world()
    assert reseal.legacy_values_count() == 5  # 2 accounts, 2 survey answers, 1 ledger row
    out = io.StringIO()
    call_command("reseal_legacy_values", batch_size=1, stdout=out, stderr=io.StringIO())
    assert "Re-sealed 3 value(s); left 2 under destroyed keys and 0 that do not open." in out.getvalue()
    account = UserAccount.objects.get(subject=kept)
    survey = SurveyResponse.objects.get(subject=kept)
    event.refresh_from_db()
    for token in (account.payment_method_reference, survey.answer, event.evidence):
        assert base64.urlsafe_b64decode(token)[0] == crypto.VERSION_GCM
    assert record_reveal(account) == {"payment_method_reference": f"tok_{kept.pk}_visa"}
    assert record_reveal(survey) == {"answer": "old answer"}
    assert event_evidence(event) == {"ip_network": "203.0.113.0/24"}
    # Now bound to its row: the same ciphertext on another row of the same subject does not open.
    other = SurveyResponse.objects.create(
        subject=kept, collected_at=survey.collected_at, survey="s", answer=""
    )
    SurveyResponse.objects.filter(pk=other.pk).update(answer=survey.answer)
    other.refresh_from_db()
    with pytest.raises(crypto.UndecryptableValue):
        record_reveal(other)
    # The shredded subject's values are left alone (nobody can open them) and a rerun finds nothing new.
    assert crypto.is_legacy(UserAccount.objects.get(subject=shredded).payment_method_reference)
    again = reseal.legacy_values_reseal()
    assert (again.resealed, again.shredded, again.undecryptable) == (0, 2, 0)


@pytest.mark.django_db
def test_an_interrupted_run_resumes_with_what_is_left():
    kept, _shredded, _event = _make_legacy_world()
    calls = []

    def stop_after_first_batch(n: int) -> None:
        calls.append(n)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        reseal.legacy_values_reseal(batch_size=1, progress=stop_after_first_batch)
    assert calls == [1] and reseal.legacy_values_count() == 4  # the first batch was committed
    counts = reseal.legacy_values_reseal(batch_size=1)
    assert (counts.resealed, counts.shredded) == (2, 2)
    assert (
        record_reveal(UserAccount.objects.get(subject=kept))["payment_method_reference"]
        == f"tok_{kept.pk}_visa"
    )


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_ledger_still_refuses_every_other_update_and_delete():
    kept, _shredded, event = _make_legacy_world()
    resealed = crypto.reseal(
        crypto.key_for_subject(kept.pk),
        event.evidence,
        table="consent_consentevent",
        column="evidence",
        row=event.pk,
    )
    refused = [
        {"evidence": "garbage"},  # legacy -> not the current format
        {"evidence": resealed, "channel": "api"},  # another column along with it
        {"channel": "api"},
    ]
    for change in refused:
        with pytest.raises(DatabaseError), transaction.atomic():
            ConsentEvent.objects.filter(pk=event.pk).update(**change)
    with pytest.raises(DatabaseError), transaction.atomic():
        ConsentEvent.objects.filter(pk=event.pk).delete()
    assert ConsentEvent.objects.filter(pk=event.pk).update(evidence=resealed) == 1
    with pytest.raises(DatabaseError), transaction.atomic():  # current -> anything: refused again
        ConsentEvent.objects.filter(pk=event.pk).update(evidence=crypto.reseal(
            crypto.key_for_subject(kept.pk), _legacy(kept.pk, "{}"), table="consent_consentevent",
            column="evidence", row=event.pk,
        ))  # fmt: skip


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_reseal_exception_takes_only_a_fernet_token_to_a_gcm_token_of_the_same_length_in_place():
    """Review of issue 15 item 11: the one UPDATE a ledger takes is as narrow as the database can check."""
    kept, _shredded, event = _make_legacy_world()
    key = crypto.key_for_subject(kept.pk)
    place = {"table": "consent_consentevent", "column": "evidence"}
    resealed = crypto.reseal(key, event.evidence, row=event.pk, **place)
    longer = crypto.seal(
        key, '{"ip_network":"203.0.113.0/24","note":"padded past a block"}', row=event.pk, **place
    )
    plain_g = ConsentEvent.objects.create(  # a ledger row whose value merely starts with "g"
        **{**ConsentEvent.objects.filter(pk=event.pk).values().get(), "id": None,
           "public_id": uuid.uuid4(), "client_event_id": f"g-{uuid.uuid4()}", "evidence": "g" + "A" * 99}
    )  # fmt: skip
    refused = [
        (event.pk, {"evidence": "A" + resealed[1:20]}),  # starts with "A", but no AES-GCM token
        (event.pk, {"evidence": "A" * len(resealed)}),  # right length, wrong version byte
        (event.pk, {"evidence": longer}),  # a real token, of a different plaintext
        (event.pk, {"evidence": resealed, "id": event.pk + 1000}),  # moved to another row id
        (event.pk, {"evidence": resealed, "at": event.at.replace(year=2000)}),
        (plain_g.pk, {"evidence": resealed}),  # the old value is not a Fernet token
    ]
    for pk, change in refused:
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            ConsentEvent.objects.filter(pk=pk).update(**change)
    assert ConsentEvent.objects.get(pk=event.pk).evidence == event.evidence  # all 6 refused, none applied
    assert ConsentEvent.objects.filter(pk=event.pk).update(evidence=resealed) == 1  # the one allowed change
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        ConsentEvent.objects.filter(pk=event.pk).delete()


@pytest.mark.postgres
@pytest.mark.django_db
def test_both_resealable_ledgers_use_the_narrow_trigger():
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, p.proname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "JOIN pg_proc p ON p.oid = t.tgfoid WHERE t.tgname LIKE '%%_append_only' "
            "AND p.proname = 'privacyops_refuse_change_except_reseal' ORDER BY 1"
        )
        rows = cursor.fetchall()
        cursor.execute("SELECT prosrc FROM pg_proc WHERE proname = 'privacyops_refuse_change_except_reseal'")
        (source,) = cursor.fetchone()
    assert rows == [  # exactly 2 ledgers allow a re-seal; every other ledger refuses every UPDATE
        ("consent_consentevent", "privacyops_refuse_change_except_reseal"),
        ("requests_app_caseevent", "privacyops_refuse_change_except_reseal"),
    ]
    assert "privacyops_b64url_bytes" in source  # the narrow rule, not the former first-character one
