"""CSV cells that a spreadsheet would run as formulas are neutralised (OWASP "CSV injection").

Names and addresses come from the public form and the third-party register: a cell starting with
`=`, `+`, `-`, `@`, a tab or a carriage return is prefixed with a single quote, so Excel, LibreOffice
and Google Sheets show it as text. Every CSV the app writes passes its text cells through here.
"""

from collections.abc import Iterable
from typing import Any

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """The value, quoted if it is text a spreadsheet would evaluate; numbers and None unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def safe_row(values: Iterable[Any]) -> list[Any]:
    return [safe_cell(v) for v in values]
