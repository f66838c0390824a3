"""Choices made on the website (banner, dialog, opt-out pages, privacy center) recorded on the ledger.

Every web choice goes through consent_events_record_bulk, so it gets the ledger's checks, sealed
evidence, receipts, suppression and fold; a WebChoice row next to each event keeps what only the
web knows: the hash of the banner text shown, the Global Privacy Control flag, the region and the
rule that decided the action (11 CCR §7025(c)(3) when the signal and an opt-in conflict).
"""

import logging
from collections.abc import Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from functools import partial
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from audit.services import audit_record
from core.actors import Actor
from inventory.models import DataSubject
from inventory.services import subject_create

from ..models import Action, Channel, ConsentState, Purpose
from ..web_models import WebChoice, WebDevice, WebRule
from ..web_selectors import web_config
from . import web_ids, web_store
from .inputs import BulkRecordRejected, ConsentEventInput

logger = logging.getLogger(__name__)

WEB_SOURCE = "website"
WEB_ACTOR = "website"


@dataclass
class WebChoiceResult:
    """What was recorded for one web choice; `actions` maps purpose code -> grant/withdraw recorded."""

    device_id: str
    actions: dict[str, str] = field(default_factory=dict)
    rules: dict[str, str] = field(default_factory=dict)
    receipts: list[str] = field(default_factory=list)
    gpc_honoured: bool = False
    conflict: bool = False  # the signal overrode an opt-in (earlier or in this request)
    states: dict[int, ConsentState] = field(default_factory=dict, repr=False)  # device's, purpose id -> state


def _parse_device_id(device_id: str | UUID | None) -> UUID | None:
    if device_id in (None, ""):
        return None
    try:
        return device_id if isinstance(device_id, UUID) else UUID(str(device_id))
    except ValueError as exc:
        raise ValidationError("The device id is not valid.", code="device_id") from exc


@transaction.atomic
def web_device_get_or_create(*, device_id: str | UUID | None, region: str = "") -> WebDevice:
    """The device with this id (locked), or a new one with its own pseudonymous subject.

    The id comes from the visitor's cookie; an id we have never seen is kept (it is random and the
    visitor's own), so a first choice needs no extra round trip. Without an id a new one is made.
    """
    wanted = _parse_device_id(device_id)
    if wanted is not None:
        device = WebDevice.objects.select_for_update().filter(public_id=wanted).first()
        if device is not None:
            return device
    subject = subject_create(actor=WEB_ACTOR)
    device = WebDevice(subject=subject, region=region[:8])
    if wanted is not None:
        device.public_id = wanted
    device.save()
    return device


def _sale_or_sharing_codes(purposes: Mapping[str, Purpose]) -> set[str]:
    return {code for code, p in purposes.items() if p.sale_or_sharing and not p.required and p.active}


def web_choice_record(
    *,
    device_id: str | UUID | None,
    choices: Mapping[str, bool],
    banner_sha256: str = "",
    gpc: bool = False,
    conflict_acknowledged: bool = False,
    region: str = "",
    policy_version: str = "",
    ip: str = "",
    user_agent: str = "",
    language: str = "en",
    channel: str = Channel.COOKIE_BANNER,
    collection_point: str = "web-banner",
    rule: str = WebRule.CHOICE,
    person_id: int | None = None,
    actor: Actor = WEB_ACTOR,
) -> WebChoiceResult:
    """Record a visitor's choices (purpose code -> allowed) for their device and, if known, the person.

    With `gpc`, every sale/sharing purpose is opted out (11 CCR §7025(b)), whatever the choices say,
    unless the visitor switched it on after being told it conflicts with the signal
    (`conflict_acknowledged`, §7025(c)(3)); an earlier opt-in the signal overrides is recorded with
    the rule that applied. A signal-only withdrawal the ledger already holds is not recorded again, so
    a GPC browser costs one ledger row per purpose, not one per page view. Raises ValidationError (nothing
    recorded) on an unknown or required purpose.
    """
    config = web_config()
    purposes = {code: p for code, p in config.purposes.items() if p.active}
    bad = sorted(str(code)[:40] for code in choices if code not in purposes or purposes[code].required)
    if bad:
        raise ValidationError(f"Not a purpose a visitor can choose: {', '.join(bad)}.", code="purpose")
    if any(not isinstance(value, bool) for value in choices.values()):
        raise ValidationError("Each choice must be true or false.", code="choice")
    if rule not in WebRule.values:
        raise ValidationError("Unknown rule.", code="rule")
    if banner_sha256 and (
        len(banner_sha256) != 64 or any(c not in "0123456789abcdef" for c in banner_sha256)
    ):
        raise ValidationError("The banner hash must be 64 lower-case hex digits.", code="banner")
    wanted = _parse_device_id(device_id)
    policy = (policy_version, config.policy_version_id if policy_version == _label(config) else None)
    record = partial(
        _record_choice, purposes=purposes, choices=choices, policy=policy,
        conflict_acknowledged=conflict_acknowledged, ip=ip, user_agent=user_agent, language=language,
        channel=channel, collection_point=collection_point, rule=rule, person_id=person_id, actor=actor,
    )  # fmt: skip

    def web() -> WebChoice:
        return WebChoice(banner_sha256=banner_sha256, gpc=gpc, region=region[:8], created_at=timezone.now())

    # A first visit on PostgreSQL: one statement in autocommit (web_store.device_drawn); inside a caller's
    # transaction, behind a savepoint, so a drawn id found taken leaves that transaction usable.
    events = len(set(choices) | (_sale_or_sharing_codes(purposes) if gpc else set()))
    if wanted is None and person_id is None and events and connection.vendor == "postgresql":
        try:
            with transaction.atomic() if connection.in_atomic_block else nullcontext():
                return record(device_id=None, web=web(), drawn=events)
        except IntegrityError:
            web_ids.forget()
            logger.warning("An id drawn ahead for a first visit was taken; recording it in a transaction.")
    # One transaction: device, ledger rows, WebChoice rows, then the audit events last, so the audit
    # chain's lock is held only from its head's read to the commit.
    for attempt in (1, 2):
        try:
            with transaction.atomic():
                return record(device_id=wanted, web=web())
        except IntegrityError:
            if attempt == 2 or wanted is None:
                raise
            # A first choice for this new id committed meanwhile: record this one for its device.
    raise AssertionError("unreachable")


def _label(config) -> str:
    return next(iter(config.banners.values())).policy_version


def _decide(
    *,
    choices: Mapping[str, bool],
    purposes: Mapping[str, Purpose],
    gpc: bool,
    conflict_acknowledged: bool,
    rule: str,
    opted_in,
    result: WebChoiceResult,
) -> dict[str, tuple[str, str]]:
    """The action and the rule per purpose code: the visitor's choices, then GPC (11 CCR §7025)."""
    wanted: dict[str, tuple[str, str]] = {}
    for code, allowed in choices.items():
        wanted[code] = (Action.GRANT if allowed else Action.WITHDRAW, rule)
    if not gpc:
        return wanted
    for code in _sale_or_sharing_codes(purposes):
        asked = choices.get(code)
        if asked and conflict_acknowledged:  # §7025(c)(3): consent after being told of the conflict
            wanted[code] = (Action.GRANT, WebRule.OPT_IN_AFTER_NOTICE)
            result.conflict = True
        elif asked:
            wanted[code] = (Action.WITHDRAW, WebRule.GPC_REFUSED_OPT_IN)
            result.conflict = True
        elif asked is False:
            wanted[code] = (Action.WITHDRAW, rule)
        else:
            earlier = opted_in(code)  # §7025(c)(3): the signal wins over an earlier opt-in
            wanted[code] = (Action.WITHDRAW, WebRule.GPC_OVER_OPT_IN if earlier else WebRule.GPC)
            result.conflict = result.conflict or earlier
    return wanted


def _ledger_items(
    *,
    wanted: Mapping[str, tuple[str, str]],
    explicit: set[str],
    subjects: list[int],
    states: Mapping[tuple[int, str], ConsentState | None],
    template: ConsentEventInput,
) -> tuple[list[ConsentEventInput], list[tuple[str, str]]]:
    """One ledger event per (subject, purpose) to record, and its (code, rule)."""
    items: list[ConsentEventInput] = []
    meta: list[tuple[str, str]] = []
    for code, (action, why) in sorted(wanted.items()):
        for sid in subjects:
            state = states.get((sid, code))
            # A GPC withdrawal the ledger already holds is not written again on every page view.
            if code not in explicit and state is not None and state.action == action:
                continue
            items.append(replace(template, subject_id=sid, purpose=code, action=action))
            meta.append((code, why))
    return items, meta


def _choice_device(
    device_id: UUID | None,
    *,
    purposes: dict[str, Purpose],
    choices: Mapping[str, bool],
    web: WebChoice,
    actor: Actor,
    drawn: int,
) -> web_store.ChoiceDevice:
    if drawn:  # nothing written yet: the ledger statement creates it
        return web_store.device_drawn(region=web.region, actor=actor, events=drawn)
    # Ledger ids for as many events as the choice can write (each purpose chosen or opted out by the
    # signal, for the device and the person), drawn with the device's statement.
    most = (len(choices) + len(_sale_or_sharing_codes(purposes))) * 2
    return web_store.device_for_choice(public_id=device_id, region=web.region, actor=actor, reserve=most)


def _record_choice(
    *,
    device_id: UUID | None,
    purposes: dict[str, Purpose],
    choices: Mapping[str, bool],
    policy: tuple[str, int | None],
    web: WebChoice,
    conflict_acknowledged: bool,
    ip: str,
    user_agent: str,
    language: str,
    channel: str,
    collection_point: str,
    rule: str,
    person_id: int | None,
    actor: Actor,
    drawn: int = 0,
) -> WebChoiceResult:
    """`drawn`: a first visit writing that many events, in one statement with its new device."""
    device = _choice_device(device_id, purposes=purposes, choices=choices, web=web, actor=actor, drawn=drawn)
    if person_id is not None and device.person_id != person_id:
        web_store.device_link_person(device, person_id)
    subjects = [device.subject_id] + ([device.person_id] if device.person_id else [])
    states = device.states
    now = timezone.now()
    result = WebChoiceResult(device_id=device.public_id, gpc_honoured=web.gpc)
    wanted = _decide(
        choices=choices,
        purposes=purposes,
        gpc=web.gpc,
        conflict_acknowledged=conflict_acknowledged,
        rule=rule,
        opted_in=lambda code: any(
            (s := states.get((sid, purposes[code].pk))) is not None and s.is_current(now) for sid in subjects
        ),
        result=result,
    )
    template = ConsentEventInput(
        subject_id=0,
        purpose="",
        action="",
        channel=channel,
        collection_point=collection_point,
        policy_version=policy[0],
        language=(language or "en")[:10],
        evidence={"ip": ip, "user_agent": user_agent} if (ip or user_agent) else None,
    )
    items, meta = _ledger_items(
        wanted=wanted,
        explicit=set(choices),
        subjects=subjects,
        states={(sid, code): states.get((sid, p.pk)) for sid in subjects for code, p in purposes.items()},
        template=template,
    )
    for code, (action, why) in wanted.items():
        result.actions[code] = action
        result.rules[code] = why
    rows = []
    if items:
        try:
            rows = web_store.append_choice_events(
                device=device,
                items=items,
                rules=[why for _, why in meta],
                web=web,
                purposes=purposes,
                policy_version=policy,
                actor=actor,
            )
        except BulkRecordRejected as exc:
            # One message with its code: a list of messages makes a ValidationError without `code`.
            messages = next(iter(exc.item_errors.values()))
            raise ValidationError(str(messages[0]), code="invalid") from exc
        result.receipts = [row.public_id for row in rows]
    web_store.audit_choice(device, rows, actor)
    result.states = web_store.folded_states(device, rows, purposes)
    return result


@transaction.atomic
def web_device_link_person(*, device_id: str | UUID, person_id: int, actor: Actor = WEB_ACTOR) -> WebDevice:
    """Tie a device to the person it belongs to, once they proved who they are (privacy-center link).

    The device's current opt-outs of sale/sharing (a GPC signal, the Do Not Sell page) then apply to
    the person too (11 CCR §7025(c)(1): "and, if known, the consumer"); later choices are recorded for both.
    """
    person = DataSubject.objects.filter(pk=person_id, erased_at__isnull=True).first()
    if person is None:
        raise ValidationError("Unknown data subject.")
    device = web_device_get_or_create(device_id=device_id)
    if device.person_id == person.pk:
        return device
    device.person = person
    device.save(update_fields=["person"])
    audit_record(
        action="consent.web_device_linked",
        actor=actor,
        target_type="consent.webdevice",
        target_id=device.pk,
        subject_id=person.pk,
    )
    opted_out = list(
        ConsentState.objects.filter(
            subject_id=device.subject_id, action=Action.WITHDRAW, purpose__sale_or_sharing=True
        ).values_list("purpose__code", "event_id")
    )
    if opted_out:
        gpc_events = set(
            WebChoice.objects.filter(event_id__in=[e for _, e in opted_out]).values_list("event_id", "gpc")
        )
        by_gpc = any(gpc for _, gpc in gpc_events)
        web_choice_record(
            device_id=device.public_id,
            choices={code: False for code, _ in opted_out},
            gpc=False,
            channel=Channel.WEB_FORM,
            collection_point="privacy-center",
            rule=WebRule.GPC if by_gpc else WebRule.PRIVACY_CENTER,
            actor=actor,
        )
    return device
