"""The hash chain's arithmetic, shared by the writer (services) and the verifier (selectors)."""

import hashlib
import json
from datetime import datetime

GENESIS = "0" * 64


def compute_hash(
    *,
    prev_hash: str,
    at: datetime,
    actor_label: str,
    action: str,
    target_type: str,
    target_id: str,
    subject_id: int | None,
    details: dict,
) -> str:
    """The hash covers every field a reader relies on, so changing any of them breaks the chain."""
    payload = json.dumps(
        [prev_hash, at.isoformat(), actor_label, action, target_type, target_id, subject_id, details],
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()
