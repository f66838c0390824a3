"""Parsing and row-level validation of historic opt-in/opt-out lists (CSV). Writes nothing.

Format (UTF-8, comma separated, header row required; column order free):

    email,purpose,action,at[,channel,collection_point,policy_version,language,name,country,region,note]

- action: grant / withdraw (also opt_in, opt-in, opt_out, opt-out, subscribed, unsubscribed)
- at: ISO 8601 date or date-time; without a time zone it is read as UTC
- channel: one of Channel's values, default `import`

Every bad row is reported with its line number (the header is line 1); messages never repeat the
email address, so they can be shown and logged safely.
"""

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime, time

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from inventory.models import normalize_email

from .models import Action, Channel

REQUIRED_COLUMNS = ("email", "purpose", "action", "at")
OPTIONAL_COLUMNS = (
    "channel", "collection_point", "policy_version", "language", "name", "country", "region", "note",
)  # fmt: skip
MAX_ROWS = 200_000
MAX_BYTES = 20 * 1024 * 1024

ACTION_ALIASES = {
    "grant": Action.GRANT,
    "granted": Action.GRANT,
    "opt_in": Action.GRANT,
    "opt-in": Action.GRANT,
    "optin": Action.GRANT,
    "subscribed": Action.GRANT,
    "withdraw": Action.WITHDRAW,
    "withdrawn": Action.WITHDRAW,
    "opt_out": Action.WITHDRAW,
    "opt-out": Action.WITHDRAW,
    "optout": Action.WITHDRAW,
    "unsubscribed": Action.WITHDRAW,
}


@dataclass
class CsvRow:
    line: int
    email: str  # normalised
    purpose: str
    action: str
    at: datetime
    channel: str
    collection_point: str = ""
    policy_version: str = ""
    language: str = "en"
    name: str = ""
    country: str = ""
    region: str = ""
    note: str = ""


@dataclass(frozen=True)
class RowError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"Line {self.line}: {self.message}" if self.line else self.message


def _parse_at(value: str) -> datetime | None:
    value = value.strip()
    if not value:
        return None
    try:
        parsed = parse_datetime(value)
        if parsed is None:
            day = parse_date(value)
            parsed = datetime.combine(day, time.min) if day else None
    except ValueError:
        return None
    if parsed is not None and timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def decode(content: bytes) -> str:
    if len(content) > MAX_BYTES:
        raise ValidationError(f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB; split it.")
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError("The file is not UTF-8 text; save it as 'CSV UTF-8' and try again.") from exc


def _check_header(header: list[str]) -> tuple[list[str], list[RowError]]:
    """The header's column names (lower case) and what is wrong with them (missing, unknown, repeated)."""
    columns = [h.strip().lower() for h in header]
    errors: list[RowError] = []
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    unknown = [c for c in columns if c and c not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
    if missing:
        errors.append(RowError(1, f"Missing column(s): {', '.join(missing)}."))
    if unknown:
        errors.append(RowError(1, f"Unknown column(s): {', '.join(unknown)}."))
    if len(set(columns)) != len(columns):
        errors.append(RowError(1, "A column name appears twice."))
    return columns, errors


def _row_problems(get, *, now: datetime) -> tuple[dict[str, object], list[str]]:
    """The checked values of one row and its problems (messages never repeat the address)."""
    problems = []
    email = normalize_email(get("email"))
    if not email:
        problems.append("the email address is empty")
    else:
        try:
            validate_email(email)
        except ValidationError:
            problems.append("the email address is not valid")
    purpose = get("purpose").lower()
    if not purpose:
        problems.append("the purpose is empty")
    action = ACTION_ALIASES.get(get("action").lower().replace(" ", "_"))
    if action is None:
        problems.append(f"'{get('action')[:20]}' is not an action (use grant or withdraw)")
    at = _parse_at(get("at"))
    if at is None:
        problems.append(
            f"'{get('at')[:30]}' is not a date (use ISO 8601, e.g. 2021-03-04 or 2021-03-04T10:00:00Z)"
        )
    elif at > now:
        problems.append("the date is in the future")
    channel = get("channel").lower() or Channel.IMPORT
    if channel not in Channel.values:
        problems.append(f"'{channel[:20]}' is not a channel ({', '.join(Channel.values)})")
    for name, limit in (
        ("collection_point", 100),
        ("policy_version", 40),
        ("language", 10),
        ("name", 200),
        ("note", 500),
    ):
        if len(get(name)) > limit:
            problems.append(f"{name} is longer than {limit} characters")
    country, region = get("country").upper(), get("region").upper()
    if country and len(country) != 2:
        problems.append("country must be a 2-letter ISO code")
    if len(region) > 3:
        problems.append("region must be an ISO 3166-2 subdivision code (up to 3 letters)")
    values = {
        "email": email,
        "purpose": purpose,
        "action": action,
        "at": at,
        "channel": channel,
        "country": country,
        "region": region,
    }
    return values, problems


def _parse_row(values: list[str], *, line: int, position: dict[str, int], now: datetime) -> CsvRow | RowError:
    """One data line as a CsvRow, or the RowError listing everything wrong with it."""
    if len(values) != len(position):
        return RowError(line, f"Expected {len(position)} values, found {len(values)}.")

    def get(name: str) -> str:
        return values[position[name]].strip() if name in position else ""

    checked, problems = _row_problems(get, now=now)
    if problems:
        text = "; ".join(problems)
        return RowError(line, text[:1].upper() + text[1:] + ".")  # not capitalize(): it lower-cases the rest
    return CsvRow(
        line=line,
        **checked,
        collection_point=get("collection_point"),
        policy_version=get("policy_version"),
        language=get("language") or "en",
        name=get("name"),
        note=get("note"),
    )


def parse(text: str, *, now: datetime | None = None) -> tuple[list[CsvRow], list[RowError]]:
    """Parse and check each row on its own (format, values). Cross-row and database checks come later."""
    now = now or timezone.now()
    rows: list[CsvRow] = []
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return [], [RowError(0, "The file is empty.")]
    except csv.Error as exc:
        return [], [RowError(1, f"The header can't be read as CSV ({exc}).")]
    columns, errors = _check_header(header)
    if errors:
        return [], errors
    position = {name: i for i, name in enumerate(columns)}
    last_line = reader.line_num
    while True:
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.append(RowError(last_line + 1, f"This line can't be read as CSV ({exc})."))
            break
        line = last_line + 1
        last_line = reader.line_num
        if not any(v.strip() for v in values):
            continue  # blank line
        if len(rows) + len(errors) >= MAX_ROWS:
            errors.append(RowError(line, f"More than {MAX_ROWS:,} rows; split the file."))
            break
        parsed = _parse_row(values, line=line, position=position, now=now)
        (errors if isinstance(parsed, RowError) else rows).append(parsed)
    if not rows and not errors:
        errors.append(RowError(0, "The file has a header but no rows."))
    return rows, errors
