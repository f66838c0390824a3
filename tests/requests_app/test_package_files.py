"""The package's CSV writer gives, character for character, what csv.DictWriter gives: it only skips
DictWriter's per-row checks (issue 19)."""

import csv
import io
import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from core.csv_safety import safe_cell
from requests_app import packages

ROWS = [
    [],
    [{}],
    [
        {
            "id": 7,
            "none": None,
            "yes": True,
            "no": False,
            "ratio": 1.5,
            "negative_zero": -0.0,
            "big": 10**20,
            "text": 'line one\nline "two"\t\u00e9\u2028\U0001f600 \\ /',
            "formula": '=HYPERLINK("x")',
            "topics": ["erp", {"nested": [1, 2, {}], "empty": []}],
            "empty_list": [],
            "empty_dict": {},
            "pair": (1, "two"),
            "settings": {"b": 1, "a": {"deep": [None, True]}},
            "amount": Decimal("1.10"),  # default=str
            "when": datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
            "day": date(2025, 1, 2),
            "nan": float("nan"),
            "inf": float("-inf"),
        },
        {"id": 8, "text": "-1", "extra": "@sum"},  # fewer and further keys
    ],
]


def _dict_writer(rows: list[dict]) -> str:
    """What the package wrote before (csv.DictWriter)."""
    out = io.StringIO()
    headers: list[str] = []
    for r in rows:
        headers.extend(k for k in r if k not in headers)
    writer = csv.DictWriter(out, fieldnames=headers)
    writer.writeheader()
    for r in rows:
        writer.writerow(
            {k: safe_cell(json.dumps(v) if isinstance(v, list | dict) else v) for k, v in r.items()}
        )
    return out.getvalue()


@pytest.mark.parametrize("rows", ROWS, ids=["none", "one-empty", "mixed"])
def test_rows_csv_is_what_dict_writer_writes(rows):
    assert packages._csv(rows) == _dict_writer(rows)
