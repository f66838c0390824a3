"""Credentials encrypted at rest under the master keys (DATA_MASTER_KEYS, newest first).

Saved once, never shown again: the admin form has write-only inputs, and only the connection
code opens them, in memory, just before connecting.
"""

import json
from typing import Any

from inventory.crypto import master


def seal(value: str) -> str:
    return master().encrypt(value.encode()).decode() if value else ""


def open_sealed(token: str) -> str:
    return master().decrypt(token.encode()).decode() if token else ""


def seal_json(value: dict[str, Any] | None) -> str:
    return seal(json.dumps(value, sort_keys=True)) if value else ""


def open_json(token: str) -> dict[str, Any]:
    return json.loads(open_sealed(token)) if token else {}
