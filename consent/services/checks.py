"""The checks a batch of consent events passes before anything is written (nothing is written if one fails).

Each item on its own (purpose, action, channel, time, sizes), then against the database: the subject
exists and is not erased, the policy version shown was published, the client event id is not reused
for a different event, the subject's data key still exists; finally a grant for a suppressed address
becomes a withdrawal.
"""

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import connection

from inventory import crypto
from inventory.models import DataSubject

from .. import evidence as evidence_mod
from ..models import CHANNEL_ALIASES, Action, ConsentEvent, PolicyVersion, Purpose, SuppressedAddress
from ..selectors import suppressed_hashes
from ..suppression import subject_email_hmacs
from .common import ACTIONS, CHANNELS, CLOCK_SKEW, chunks, pg_fetch
from .inputs import ConsentEventInput, EventRow


def parse_events(
    events: Sequence[ConsentEventInput], *, purposes: Mapping[str, Purpose], now: datetime, errors: dict
) -> list[EventRow]:
    """Check each item on its own (purpose, action, channel, time, sizes) and minimise its evidence."""
    rows: list[EventRow] = []
    latest = now + CLOCK_SKEW
    split_evidence, dumps = evidence_mod.split_evidence, evidence_mod.dumps
    for index, item in enumerate(events):
        problems: list[str] = []
        purpose = purposes.get(item.purpose)
        if purpose is None:
            problems.append(f"Unknown purpose '{str(item.purpose)[:40]}'.")
        elif purpose.required:
            problems.append(
                f"'{purpose.name}' is required to provide the Services; it is not based on consent."
            )
        elif not purpose.active:
            problems.append(f"'{purpose.name}' is no longer in use.")
        if item.action not in ACTIONS:
            problems.append(f"Unknown action '{str(item.action)[:20]}' (use grant or withdraw).")
        channel = CHANNEL_ALIASES.get(item.channel, item.channel)
        if channel not in CHANNELS:
            problems.append(f"Unknown channel '{str(item.channel)[:20]}'.")
        elif channel != item.channel:
            item = replace(item, channel=channel)
        at = item.at or now
        if not isinstance(at, datetime) or at.utcoffset() is None:  # naive: no time zone
            problems.append("The time must be a date and time with a time zone.")
            at = now
        elif at > latest:
            problems.append("The time is in the future.")
        elif at > now:
            # Clock drift of the sending system is accepted but never trusted: an event can't be dated
            # after it reached us, so a fast clock can't lift a grant above a later opt-out (issue 14).
            at = now
        if len(item.client_event_id or "") > 100:
            problems.append("The client event id is longer than 100 characters.")
        if len(item.language or "") > 10:
            problems.append("The language code is longer than 10 characters.")
        try:
            plain, sealed = split_evidence(item.evidence)
        except ValidationError as exc:
            problems.extend(exc.messages)
            plain, sealed = {}, {}
        if problems:
            errors[index].extend(problems)
        collection_point = item.collection_point or plain.get("form_id") or plain.get("banner_id") or ""
        rows.append(
            EventRow(
                index=index,
                item=item,
                at=at,
                collection_point=collection_point[:100],
                language=(item.language or plain.get("language") or "en")[:10],
                sealed=dumps(sealed),
                action=item.action,
                purpose_pk=purpose.pk if purpose is not None else 0,
                policy_version_label=item.policy_version or plain.get("policy_version", ""),
                received_at=now,
            )
        )
    return rows


def check_subjects_and_versions(rows: list[EventRow], *, errors: dict) -> set[int]:
    """Subjects must exist and not be erased; a policy version shown must be published. Returns live ids."""
    subjects: dict[int, datetime | None] = {}
    wanted = list({r.item.subject_id for r in rows})
    if connection.vendor == "postgresql":
        subjects.update(
            pg_fetch(
                f"SELECT id, erased_at FROM {DataSubject._meta.db_table} WHERE id = ANY(%s::bigint[])",
                [wanted],
            )
        )
    else:
        for chunk in chunks(wanted):
            subjects.update(DataSubject.objects.filter(pk__in=chunk).values_list("pk", "erased_at"))
    labels = {r.policy_version_label for r in rows if r.policy_version_label}
    versions = {
        v.version: v
        for v in PolicyVersion.objects.filter(version__in=labels).only("pk", "version", "published_at")
    }
    for row in rows:
        sid = row.item.subject_id
        if sid not in subjects:
            errors[row.index].append("Unknown data subject.")
        elif subjects[sid] is not None:
            errors[row.index].append("The data subject was erased; no consent can be recorded for them.")
        label = row.policy_version_label
        if label:
            version = versions.get(label)
            if version is None:
                errors[row.index].append(f"Unknown policy version '{label[:40]}'.")
            elif version.published_at is None:
                errors[row.index].append(f"Policy version '{label[:40]}' was never published.")
            else:
                row.policy_version_id = version.pk
    return {sid for sid, erased_at in subjects.items() if erased_at is None}


def find_duplicates(
    rows: list[EventRow], *, source: str, purposes: Mapping[str, Purpose], errors: dict
) -> dict[int, tuple[int, str]]:
    """Items whose client event id this source already sent (or sent earlier in this batch).

    Returns index -> (event id, receipt id); a negative event id points at the earlier item of this
    batch (-index - 1) and is resolved once that item is written. A reused id for a different event is
    an error, never a silent overwrite.
    """
    codes = {p.pk: p.code for p in purposes.values()}
    keyed = [r for r in rows if r.item.client_event_id]
    existing: dict[str, tuple] = {}
    wanted = list({r.item.client_event_id for r in keyed})
    if wanted and connection.vendor == "postgresql":
        # One index probe per id (LIMIT 1 keeps the lateral subquery a parameterised index scan): with
        # `client_event_id = ANY(...)` the planner may instead scan every row of the source and filter,
        # e.g. while the statistics still describe a smaller table during a big import.
        for found in pg_fetch(
            "SELECT e.client_event_id, e.id, e.public_id, e.subject_id, e.purpose_id, e.action, e.suppressed "
            "FROM unnest(%b::varchar[]) AS wanted(client_event_id) CROSS JOIN LATERAL ("
            "SELECT client_event_id, id, public_id, subject_id, purpose_id, action, suppressed "
            f"FROM {ConsentEvent._meta.db_table} WHERE source = %s "
            "AND client_event_id = wanted.client_event_id AND client_event_id <> '' LIMIT 1) AS e",
            [wanted, source],
        ):
            existing[found[0]] = found[1:]
    else:
        for chunk in chunks(wanted):
            for found in (
                ConsentEvent.objects.filter(source=source, client_event_id__in=chunk)
                .exclude(client_event_id="")
                .values_list(
                    "client_event_id", "pk", "public_id", "subject_id", "purpose_id", "action", "suppressed"
                )
            ):
                existing[found[0]] = found[1:]
    duplicates: dict[int, tuple[int, str]] = {}
    first_in_batch: dict[str, EventRow] = {}
    for row in keyed:
        item = row.item
        cid = item.client_event_id
        if cid not in existing and cid not in first_in_batch:  # the common case: a new id
            first_in_batch[cid] = row
            continue
        same = (item.subject_id, item.purpose, item.action)
        if cid in existing:
            pk, public_id, sid, purpose_id, action, was_suppressed = existing[cid]
            recorded_as = Action.GRANT if was_suppressed else action
            if (sid, codes.get(purpose_id), recorded_as) != same:
                errors[row.index].append("This client event id was already used for a different event.")
            else:
                duplicates[row.index] = (pk, str(public_id))
        else:
            first = first_in_batch[cid]
            if (first.item.subject_id, first.item.purpose, first.item.action) != same:
                errors[row.index].append(
                    "This client event id appears twice in the batch for different events."
                )
            else:
                duplicates[row.index] = (-first.index - 1, "")
    return duplicates


def subject_sealing_keys(
    rows: list[EventRow], *, live_subjects: set[int], errors: dict
) -> dict[int, crypto.SealingKey | None]:
    """Data keys of the subjects whose evidence must be sealed, unwrapped once per batch (one query per 5,000)."""
    wanted = {r.item.subject_id for r in rows if r.sealed and r.item.subject_id in live_subjects}
    keys: dict[int, crypto.SealingKey | None] = {}
    for chunk in chunks(list(wanted)):
        keys.update(crypto.sealing_keys_for_subjects(chunk))
    destroyed = {sid for sid in wanted if keys.get(sid) is None}
    for row in rows if destroyed else ():
        if row.sealed and row.item.subject_id in destroyed:
            errors[row.index].append("The data subject's key was destroyed; evidence can't be stored.")
    return keys


def apply_suppression(rows: list[EventRow], *, any_suppressed: bool | None = None) -> None:
    """CAN-SPAM §7704, GDPR Art. 21(3): a grant for a suppressed address is recorded as a withdrawal.

    `any_suppressed`: whether any address is suppressed at all, when the caller read it already in the
    same transaction (None: asked here)."""
    grants = [r for r in rows if r.action == Action.GRANT]
    if not grants:
        return
    if not (SuppressedAddress.objects.exists() if any_suppressed is None else any_suppressed):
        return
    hashes_by_subject = subject_email_hmacs({r.item.subject_id for r in grants})
    listed = suppressed_hashes(
        hashes={h for hs in hashes_by_subject.values() for h in hs},
        purposes={r.item.purpose for r in grants},
    )
    for row in grants:
        if any((h, row.item.purpose) in listed for h in hashes_by_subject.get(row.item.subject_id, ())):
            row.action = Action.WITHDRAW
            row.suppressed = True
