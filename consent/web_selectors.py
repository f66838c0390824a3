"""Reads for the website's consent banner: web purposes, the banner text and its hash, a device's state.

The banner text is built here, from the purposes marked for the web, so the hash recorded with each
choice names exactly the words the visitor saw (any change to a purpose's name or description, or to
the wording below, gives a new hash).
"""

import hashlib
import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from uuid import UUID

from django.core.cache import cache
from django.db.models import QuerySet
from django.utils import timezone

from core import clock

from . import conf
from .models import Action, ConsentState, PolicyVersion, Purpose
from .web_models import WebDevice

logger = logging.getLogger(__name__)

OPT_IN = "opt_in"  # EU/EEA/UK/CH: non-essential purposes off until chosen
OPT_OUT = "opt_out"  # US: on until the visitor (or their GPC signal) opts out

BANNER_WORDING = {
    "title": "Your privacy choices",
    "body": "We use cookies, pixels and widgets from other providers. Strictly necessary cookies are always "
    "on. You choose the rest; you can change your mind at any time under 'Privacy choices'.",
    "body_opt_out": "We use cookies, pixels and widgets from other providers, and sharing data for "
    "advertising can count as a 'sale' or 'sharing' under California law. You can opt out at any time.",
    "accept": "Accept all",
    "reject": "Reject all",
    "customise": "Choose",
    "save": "Save my choices",
    "do_not_sell": "Do Not Sell or Share My Personal Information",
    "gpc_honoured": "Opt-out preference signal honoured",
    "gpc_conflict": "Your browser sends an opt-out preference signal (Global Privacy Control), so we don't "
    "sell or share your personal information. Switching on a sharing purpose here overrides the "
    "signal for this site only.",
}


def normalise_region(raw: str) -> str:
    """A header value like 'de', 'US-CA' or 'XX' as a short upper-case code ('' when not usable)."""
    value = (raw or "").strip().upper()[:8]
    if not value or value in ("XX", "T1") or not all(c.isalnum() or c == "-" for c in value):
        return ""
    return value


def region_model(region: str) -> str:
    """OPT_IN for the EU/EEA, the UK and Switzerland (and unknown regions, by default), else OPT_OUT for the US."""
    country = (region or conf.web_default_region()).split("-", 1)[0].upper()
    if country == "US":
        return OPT_OUT
    if country == "EU" or country in conf.OPT_IN_COUNTRIES:
        return OPT_IN
    default = conf.web_default_region().split("-", 1)[0].upper()
    return OPT_OUT if default == "US" else OPT_IN


def current_policy_version(*, on=None) -> PolicyVersion | None:
    """The published policy version in force on a date (today by default, the business's today: a
    version effective 1 January takes over at midnight Pacific, not at 16:00 on 31 December): the one
    the banner links."""
    on = on or clock.business_today()
    return (
        PolicyVersion.objects.filter(published_at__isnull=False, effective_on__lte=on)
        .order_by("-effective_on", "-id")
        .first()
    )


def web_purposes() -> QuerySet[Purpose]:
    """Active purposes marked for the web, strictly necessary first."""
    return Purpose.objects.filter(active=True).exclude(web_key="").order_by("-required", "pk")


@dataclass(frozen=True)
class Banner:
    """What the banner and dialog show in one region, and the hash recorded with each choice."""

    region: str
    model: str
    wording: dict
    purposes: list[dict]
    sha256: str
    policy_version: str
    policy_url: str


def _build_banner(model: str, purposes: list[dict], policy: PolicyVersion | None) -> Banner:
    wording = dict(BANNER_WORDING)
    wording["body"] = wording.pop("body_opt_out") if model == OPT_OUT else wording.pop("body")
    wording.pop("body_opt_out", None)
    canonical = json.dumps({"wording": wording, "purposes": purposes}, sort_keys=True, separators=(",", ":"))
    return Banner(
        region="",
        model=model,
        wording=wording,
        purposes=purposes,
        sha256=hashlib.sha256(canonical.encode()).hexdigest(),
        policy_version=policy.version if policy else "",
        policy_url=(policy.url if policy else "") or conf.default_policy_url(),
    )


@dataclass(frozen=True)
class WebConfig:
    """What every web choice reads and nothing but an officer changes: purposes, banners, policy version.

    Kept per process (web_config) so a choice reads none of it from the database.
    """

    purposes: dict[str, Purpose]  # every purpose by code, active or not (the ledger's checks need both)
    banners: dict[str, Banner]  # by model (OPT_IN, OPT_OUT)
    policy_version_id: int | None  # the published version the banners link
    web_sale_or_sharing: frozenset[str]  # codes a GPC signal opts out of


def _load_web_config() -> WebConfig:
    purposes = {p.code: p for p in Purpose.objects.all()}
    shown = sorted(
        (p for p in purposes.values() if p.active and p.web_key), key=lambda p: (not p.required, p.pk)
    )
    listed = [
        {
            "key": p.web_key,
            "code": p.code,
            "name": p.name,
            "description": p.description,
            "required": p.required,
            "sale_or_sharing": p.sale_or_sharing,
        }
        for p in shown
    ]
    policy = current_policy_version()
    return WebConfig(
        purposes=purposes,
        banners={model: _build_banner(model, listed, policy) for model in (OPT_IN, OPT_OUT)},
        policy_version_id=policy.pk if policy else None,
        web_sale_or_sharing=frozenset(
            code for code, p in purposes.items() if p.sale_or_sharing and p.active and not p.required
        ),
    )


# The per-process copy: (token, day, checked_at, config). The token lives in the shared cache (Redis in
# production) and changes whenever a purpose or policy version does (web_config_changed), so every process
# reloads; a process looks at the token at most once per CONFIG_CHECK_SECONDS, and reloads at midnight
# (a policy version takes effect on a date).
CONFIG_VERSION_KEY = "consent:web-config-version"
CONFIG_CHECK_SECONDS = 1.0
_memo: dict[str, tuple] = {}
_memo_lock = threading.Lock()


def _shared_token() -> str | None:
    try:
        token = cache.get(CONFIG_VERSION_KEY)
        if token is None:
            cache.add(CONFIG_VERSION_KEY, uuid.uuid4().hex, timeout=None)
            token = cache.get(CONFIG_VERSION_KEY)
        return token
    except Exception:  # an unreachable cache must not stop choices: read the database every time
        logger.warning("The web consent config version could not be read; reading the database.")
        return None


def web_config() -> WebConfig:
    """Purposes, banners and the policy version, from this process's copy while it is current."""
    now, day = time.monotonic(), clock.business_today()
    held = _memo.get("config")
    if held is not None and held[1] == day and now - held[2] < CONFIG_CHECK_SECONDS:
        return held[3]
    token = _shared_token()
    if held is not None and token is not None and held[0] == token and held[1] == day:
        _memo["config"] = (token, day, now, held[3])
        return held[3]
    config = _load_web_config()
    if token is not None:
        with _memo_lock:
            _memo["config"] = (token, day, now, config)
    return config


def web_config_forget() -> None:
    """Forget this process's copy (tests roll the database back under it)."""
    _memo.clear()


def web_config_changed() -> None:
    """A purpose or policy version changed: forget this process's copy and tell every other process."""
    web_config_forget()
    try:
        cache.set(CONFIG_VERSION_KEY, uuid.uuid4().hex, timeout=None)
    except Exception:  # the copies still expire: each process re-checks within CONFIG_CHECK_SECONDS
        logger.warning("The web consent config version could not be bumped.")


def web_banner(*, region: str) -> Banner:
    """The banner for a region (no query while this process's copy of the config is current)."""
    return replace(web_config().banners[region_model(region)], region=region)


def banner_hashes() -> set[str]:
    """Hashes of the banner as currently shown in either model (a choice must name one of them)."""
    return {banner.sha256 for banner in web_config().banners.values()}


@dataclass
class DeviceState:
    """A device's current answer per web key (regional defaults where it never chose)."""

    device_id: str
    choices: dict[str, bool] = field(default_factory=dict)
    chosen: set[str] = field(default_factory=set)
    gpc_recorded: bool = False


def web_device_state(
    *,
    device_id: str | UUID | None,
    region: str,
    gpc: bool = False,
    states: dict[int, ConsentState] | None = None,
) -> DeviceState:
    """Effective choices: the ledger's state where the device chose, else the regional default; GPC off.

    `states` (purpose id -> the device subject's ConsentState), when the caller holds them, saves the reads.
    """
    if states is None:
        device = None
        if device_id:
            device = (
                WebDevice.objects.filter(public_id=device_id).only("pk", "public_id", "subject_id").first()
            )
        states = {}
        if device is not None:
            states = {s.purpose_id: s for s in ConsentState.objects.filter(subject_id=device.subject_id)}
        device_id = device.public_id if device else ""
    default_on = region_model(region) == OPT_OUT
    now = timezone.now()
    config = web_config()
    result = DeviceState(device_id=str(device_id or ""))
    for shown in config.banners[OPT_IN].purposes:
        key, purpose = shown["key"], config.purposes[shown["code"]]
        if purpose.required:
            result.choices[key] = True
            continue
        state = states.get(purpose.pk)
        if state is not None:
            result.chosen.add(key)
            result.choices[key] = state.is_current(now)
        else:
            result.choices[key] = default_on and not (gpc and purpose.sale_or_sharing)
        if gpc and purpose.sale_or_sharing and state is not None and state.action == Action.WITHDRAW:
            result.gpc_recorded = True
    return result
