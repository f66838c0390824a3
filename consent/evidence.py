"""Consent evidence: what is kept to prove consent (GDPR Art. 7(1)), minimised before it is sealed.

Only known keys are accepted (data minimisation, GDPR Art. 5(1)(c)). Identifiers of the form or
banner and the policy version shown are not personal data and get their own plain columns; the rest
(IP network, user agent, a note) is sealed under the subject's data key.
"""

import ipaddress
import json
import socket
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError

_quote = json.encoder.encode_basestring_ascii  # the escaper json.dumps uses (ensure_ascii)

# Keys that go to plain columns of ConsentEvent rather than into the sealed blob.
PLAIN_KEYS = {"form_id", "banner_id", "policy_version", "language"}
SEALED_KEYS = {"ip", "user_agent", "note", "reference"}
ALLOWED_KEYS = PLAIN_KEYS | SEALED_KEYS

USER_AGENT_MAX = 200  # enough to show browser and OS; the rest of a UA string adds fingerprinting only
NOTE_MAX = 500
IDENT_MAX = 100


def minimise_ip(value: str) -> str:
    """Keep the network only: IPv4 /24, IPv6 /48 (enough to show the region/company, not the device)."""
    text = value.strip()
    try:
        packed = socket.inet_pton(socket.AF_INET, text)  # strict dotted quad, parsed in C
    except OSError:
        pass
    else:
        return f"{packed[0]}.{packed[1]}.{packed[2]}.0/24"
    try:
        address = ipaddress.ip_address(text)
    except ValueError as exc:
        raise ValidationError("The IP address in the evidence is not valid.") from exc
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def split_evidence(evidence: Mapping[str, Any] | None) -> tuple[dict[str, str], dict[str, str]]:
    """Validate and minimise evidence; returns (plain fields, sealed fields). Raises ValidationError."""
    if not evidence:
        return {}, {}
    if type(evidence) is not dict and not isinstance(evidence, Mapping):  # exact dict: skip the ABC check
        raise ValidationError("Evidence must be an object.")
    if not ALLOWED_KEYS.issuperset(evidence):
        unknown = sorted(set(evidence) - ALLOWED_KEYS)
        raise ValidationError(
            f"Evidence has unknown keys {', '.join(unknown)}; allowed: {', '.join(sorted(ALLOWED_KEYS))}."
        )
    plain: dict[str, str] = {}
    sealed: dict[str, str] = {}
    for key, raw in evidence.items():
        if raw is None or raw == "":
            continue
        if type(raw) is not str and not isinstance(raw, str | int | float):
            raise ValidationError(f"Evidence '{key}' must be text.")
        value = str(raw).strip()
        if key == "ip":
            sealed["ip_network"] = minimise_ip(value)
        elif key == "user_agent":
            sealed["user_agent"] = value[:USER_AGENT_MAX]
        elif key in ("note", "reference"):
            if len(value) > NOTE_MAX:
                raise ValidationError(f"Evidence '{key}' is longer than {NOTE_MAX} characters.")
            sealed[key] = value
        else:
            if len(value) > IDENT_MAX:
                raise ValidationError(f"Evidence '{key}' is longer than {IDENT_MAX} characters.")
            plain[key] = value
    if "form_id" in plain and "banner_id" in plain:
        raise ValidationError("Give either a form id or a banner id, not both.")
    return plain, sealed


def dumps(sealed: Mapping[str, str]) -> str:
    """Canonical JSON for sealing ("" when there is nothing to seal): json.dumps(separators=(",", ":")).

    Text-only objects (what split_evidence returns) are joined with json's own C string escaper,
    byte for byte what json.dumps writes; json.dumps builds a new encoder on every call.
    """
    if not sealed:
        return ""
    try:
        return "{" + ",".join([_quote(k) + ":" + _quote(v) for k, v in sealed.items()]) + "}"
    except TypeError:  # a key or value that is not text
        return json.dumps(sealed, separators=(",", ":"))


def loads(text: str) -> dict[str, str]:
    return json.loads(text) if text else {}
