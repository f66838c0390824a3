"""The card an app contributes to the admin index (its `dashboard.py` returns a list of them)."""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Card:
    title: str
    value: str | int
    url: str = ""  # admin changelist link, with filters
    level: str = "info"  # info | warning | danger
    note: str = ""


@dataclass(frozen=True)
class Section:
    app_label: str
    title: str
    cards: list[Card] = field(default_factory=list)
