"""Which secrets are unsafe in production: published development values and trivially short keys.

Pure Python (no Django import) so settings.py can refuse to start with it and `check --deploy`
(privacyops.checks) can report every problem with the same rules.
"""

import base64
import binascii

# Values published in this repository (settings.py defaults, .env.example): anyone can read them.
DEV_SECRET_KEY = "django-insecure-development-only-never-use-in-production"
EXAMPLE_SECRET_KEY = "change-me-to-50-random-characters"
DEV_DATA_KEY = "NymaYYQRL5QtIFToAsuHtB7fVeBkwnKPeAqRl1a9cuU="
DEV_HASH_KEY = "dev-hash-key"

MIN_SECRET_KEY_LENGTH = 50  # Django's own deployment rule (security.W009)
MIN_HASH_KEY_LENGTH = 32
MIN_UNIQUE_CHARACTERS = 5


def _trivial(value: str, *, min_length: int) -> bool:
    return len(value) < min_length or len(set(value)) < MIN_UNIQUE_CHARACTERS


def secret_key_problem(value: str) -> str | None:
    if value in (DEV_SECRET_KEY, EXAMPLE_SECRET_KEY) or value.startswith("django-insecure-"):
        return "is a published development value"
    if _trivial(value, min_length=MIN_SECRET_KEY_LENGTH):
        return f"is too short or repetitive (needs {MIN_SECRET_KEY_LENGTH}+ random characters)"
    return None


def data_master_keys_problem(values: list[str]) -> str | None:
    for value in values:
        if value == DEV_DATA_KEY:
            return "holds the published development key"
        try:
            raw = base64.urlsafe_b64decode(value.encode())
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) != 32:
            return "holds a key that is not 32 url-safe base64 bytes (a Fernet key)"
        if len(set(raw)) < MIN_UNIQUE_CHARACTERS:
            return "holds a trivially repetitive key"
    return None


def hash_key_problem(value: str) -> str | None:
    if value == DEV_HASH_KEY:
        return "is the published development value"
    if _trivial(value, min_length=MIN_HASH_KEY_LENGTH):
        return f"is too short or repetitive (needs {MIN_HASH_KEY_LENGTH}+ random characters)"
    return None


def problems(*, secret_key: str, data_master_keys: list[str], hash_key: str) -> list[tuple[str, str]]:
    """(variable, problem) for every unsafe secret, in a fixed order."""
    found = [
        ("SECRET_KEY", secret_key_problem(secret_key)),
        ("DATA_MASTER_KEYS", data_master_keys_problem(data_master_keys)),
        ("HASH_KEY", hash_key_problem(hash_key)),
    ]
    return [(name, problem) for name, problem in found if problem]
