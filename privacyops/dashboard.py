"""Cards on the admin index. Each app may provide `<app>/dashboard.py` with

    def dashboard_cards(request) -> list[Card]: ...

reading through its selectors (a few aggregate queries, never one per row).
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Card:
    title: str
    value: str | int
    url: str = ""  # admin changelist link, with filters
    level: str = "info"  # info | warning | danger
    note: str = ""
