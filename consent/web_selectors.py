"""Reads for the website's consent banner: web purposes, the banner text and its hash, a device's state.

The banner text is built here, from the purposes marked for the web, so the hash recorded with each
choice names exactly the words the visitor saw (any change to a purpose's name or description, or to
the wording below, gives a new hash).
"""

import hashlib
import json
from dataclasses import dataclass, field
from uuid import UUID

from django.db.models import QuerySet
from django.utils import timezone

from . import conf
from .models import Action, ConsentState, PolicyVersion, Purpose
from .web_models import WebDevice

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
    """The published policy version in force on a date (today by default): the one the banner links."""
    on = on or timezone.localdate()
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


def web_banner(*, region: str) -> Banner:
    """The banner for a region (two queries: purposes, current policy version)."""
    model = region_model(region)
    purposes = [
        {
            "key": p.web_key,
            "code": p.code,
            "name": p.name,
            "description": p.description,
            "required": p.required,
            "sale_or_sharing": p.sale_or_sharing,
        }
        for p in web_purposes()
    ]
    wording = dict(BANNER_WORDING)
    wording["body"] = wording.pop("body_opt_out") if model == OPT_OUT else wording.pop("body")
    wording.pop("body_opt_out", None)
    policy = current_policy_version()
    canonical = json.dumps({"wording": wording, "purposes": purposes}, sort_keys=True, separators=(",", ":"))
    return Banner(
        region=region,
        model=model,
        wording=wording,
        purposes=purposes,
        sha256=hashlib.sha256(canonical.encode()).hexdigest(),
        policy_version=policy.version if policy else "",
        policy_url=(policy.url if policy else "") or conf.default_policy_url(),
    )


def banner_hashes() -> set[str]:
    """Hashes of the banner as currently shown in either model (a choice must name one of them)."""
    return {web_banner(region="US").sha256, web_banner(region="EU").sha256}


@dataclass
class DeviceState:
    """A device's current answer per web key (regional defaults where it never chose)."""

    device_id: str
    choices: dict[str, bool] = field(default_factory=dict)
    chosen: set[str] = field(default_factory=set)
    gpc_recorded: bool = False


def web_device_state(*, device_id: str | UUID | None, region: str, gpc: bool = False) -> DeviceState:
    """Effective choices: the ledger's state where the device chose, else the regional default; GPC off."""
    device = None
    if device_id:
        device = WebDevice.objects.filter(public_id=device_id).only("pk", "public_id", "subject_id").first()
    states: dict[int, ConsentState] = {}
    if device is not None:
        states = {s.purpose_id: s for s in ConsentState.objects.filter(subject_id=device.subject_id)}
    default_on = region_model(region) == OPT_OUT
    now = timezone.now()
    result = DeviceState(device_id=str(device.public_id) if device else "")
    for purpose in web_purposes():
        if purpose.required:
            result.choices[purpose.web_key] = True
            continue
        state = states.get(purpose.pk)
        if state is not None:
            result.chosen.add(purpose.web_key)
            result.choices[purpose.web_key] = state.is_current(now)
        else:
            result.choices[purpose.web_key] = default_on and not (gpc and purpose.sale_or_sharing)
        if gpc and purpose.sale_or_sharing and state is not None and state.action == Action.WITHDRAW:
            result.gpc_recorded = True
    return result
