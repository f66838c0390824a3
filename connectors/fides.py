"""Fides dataset files (YAML): parsed into plain dataclasses, validated with errors by line.

Fides users bring their files unchanged: we keep the text as imported and export it byte for byte.
What we read: `dataset[].fides_key`, `collections[].name`, `fields[].name`, `data_categories`, and
`fides_meta` (older files: `fidesops_meta`) with `identity`, `primary_key`, `data_type` and
`references` (`dataset`, `field` as "collection.field", `direction` "from" / "to" / absent = both).
Our own additions (erase strategy per field, category mapping) live beside the file, on the Dataset
row, so the file stays a Fides file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

META_KEYS = ("fides_meta", "fidesops_meta")
DIRECTIONS = ("from", "to", None)

# Fides taxonomy prefixes -> our DataCategory codes (longest prefix wins; see category_for()).
DEFAULT_CATEGORY_MAP: dict[str, str] = {
    "user.contact": "contact",
    "user.name": "contact",
    "user.unique_id": "contact",
    "user.government_id": "contact",
    "user.demographic": "contact",
    "user.account": "account",
    "user.authorization": "account",
    "user.financial": "account",
    "user.payment": "account",
    "user.workplace": "company",
    "user.job_title": "company",
    "user.privacy_preferences": "marketing",
    "user.behavior": "activity",
    "user.device": "activity",
    "user.location": "activity",
    "user.content": "survey",
    "user": "contact",
}


class DatasetError(ValueError):
    """A dataset file that cannot be used; `errors` lists (line, message) pairs, line 0 when unknown."""

    def __init__(self, errors: list[tuple[int, str]]):
        self.errors = errors
        super().__init__("; ".join(f"line {line}: {msg}" if line else msg for line, msg in errors))


@dataclass(frozen=True)
class Reference:
    """An edge: this field's values match `collection.field` (in dataset `dataset`)."""

    dataset: str
    collection: str
    field: str
    direction: str | None  # "from": values flow from the referenced field into this one
    line: int = field(default=0, compare=False)


@dataclass
class Field:
    name: str
    data_categories: list[str] = field(default_factory=list)
    identity: str | None = None
    primary_key: bool = False
    data_type: str | None = None
    references: list[Reference] = field(default_factory=list)
    line: int = 0

    @property
    def is_personal(self) -> bool:
        return any(c == "user" or c.startswith("user.") for c in self.data_categories)


@dataclass
class Collection:
    name: str
    fields: dict[str, Field]
    line: int = 0

    @property
    def primary_key(self) -> list[str]:
        return [f.name for f in self.fields.values() if f.primary_key]


@dataclass
class Dataset:
    fides_key: str
    name: str
    collections: dict[str, Collection]

    def identities(self) -> set[str]:
        return {f.identity for c in self.collections.values() for f in c.fields.values() if f.identity}


def category_for(fides_category: str, mapping: dict[str, str] | None = None) -> str | None:
    """Our DataCategory code for a Fides category: explicit mapping first, then the longest prefix."""
    table = {**DEFAULT_CATEGORY_MAP, **(mapping or {})}
    parts = fides_category.split(".")
    for n in range(len(parts), 0, -1):
        code = table.get(".".join(parts[:n]))
        if code:
            return code
    return None


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that remembers the line of every mapping (as `__line__`), for errors by line."""

    def construct_mapping(self, node, deep=False):
        mapping = super().construct_mapping(node, deep=deep)
        mapping["__line__"] = node.start_mark.line + 1
        return mapping


def _meta(raw: dict) -> dict:
    for key in META_KEYS:
        if isinstance(raw.get(key), dict):
            return raw[key]
    return {}


def _references(
    meta: dict, key: str, where: str, fline: int, errors: list[tuple[int, str]]
) -> list[Reference]:
    refs = []
    for ref in meta.get("references") or []:
        rline = ref.get("__line__", fline) if isinstance(ref, dict) else fline
        target = ref.get("field", "") if isinstance(ref, dict) else ""
        if "." not in str(target):
            errors.append((rline, f"reference of {where} needs `field: collection.field`"))
            continue
        direction = ref.get("direction")
        if direction not in DIRECTIONS:
            errors.append((rline, f"reference direction must be `from` or `to`, not {direction!r}"))
            continue
        coll, _, fname = str(target).partition(".")
        refs.append(Reference(str(ref.get("dataset") or key), coll, fname, direction, rline))
    return refs


def _field(rf: dict, key: str, cname: str, fline: int, errors: list[tuple[int, str]]) -> Field:
    meta = _meta(rf)
    where = f"{cname}.{rf['name']}"
    cats = rf.get("data_categories") or []
    if not isinstance(cats, list):
        errors.append((fline, f"data_categories of {where} must be a list"))
        cats = []
    return Field(
        name=rf["name"],
        data_categories=[str(c) for c in cats],
        identity=meta.get("identity"),
        primary_key=bool(meta.get("primary_key")),
        data_type=meta.get("data_type"),
        references=_references(meta, key, where, fline, errors),
        line=fline,
    )


def _collections(raw: dict, key: str, line: int, errors: list[tuple[int, str]]) -> dict[str, Collection]:
    collections: dict[str, Collection] = {}
    for rc in raw.get("collections") or []:
        cline = rc.get("__line__", line) if isinstance(rc, dict) else line
        if not isinstance(rc, dict) or not rc.get("name"):
            errors.append((cline, "collection without a `name`"))
            continue
        if rc["name"] in collections:
            errors.append((cline, f"collection {rc['name']!r} appears twice"))
        fields: dict[str, Field] = {}
        for rf in rc.get("fields") or []:
            fline = rf.get("__line__", cline) if isinstance(rf, dict) else cline
            if not isinstance(rf, dict) or not rf.get("name"):
                errors.append((fline, f"field without a `name` in collection {rc['name']!r}"))
                continue
            fields[rf["name"]] = _field(rf, key, rc["name"], fline, errors)
        collections[rc["name"]] = Collection(name=rc["name"], fields=fields, line=cline)
    return collections


def _check_references(datasets: list[Dataset], errors: list[tuple[int, str]]) -> None:
    known = {d.fides_key: d for d in datasets}
    for ds in datasets:
        for coll in ds.collections.values():
            for f in coll.fields.values():
                for ref in f.references:
                    target = known.get(ref.dataset)
                    if target is None:
                        continue  # a reference to another system's dataset: checked when both are loaded
                    where = f"{coll.name}.{f.name}"
                    if ref.collection not in target.collections:
                        errors.append((ref.line, f"{where} references unknown collection {ref.collection!r}"))
                    elif ref.field not in target.collections[ref.collection].fields:
                        errors.append(
                            (ref.line, f"{where} references unknown field {ref.collection}.{ref.field}")
                        )


def parse(text: str) -> list[Dataset]:
    """Every dataset in a Fides YAML document; raises DatasetError listing every problem by line."""
    try:
        doc = yaml.load(text, Loader=_LineLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise DatasetError(
            [(mark.line + 1 if mark else 0, f"not valid YAML: {getattr(exc, 'problem', exc)}")]
        ) from None
    errors: list[tuple[int, str]] = []
    if not isinstance(doc, dict) or not isinstance(doc.get("dataset"), list):
        raise DatasetError([(1, "the file must have a top-level `dataset:` list (Fides dataset format)")])
    datasets: list[Dataset] = []
    for raw in doc["dataset"]:
        if not isinstance(raw, dict):
            errors.append((0, "each dataset must be a mapping"))
            continue
        line = raw.get("__line__", 0)
        key = raw.get("fides_key")
        if not key or not isinstance(key, str):
            errors.append((line, "dataset without a `fides_key`"))
            continue
        collections = _collections(raw, key, line, errors)
        datasets.append(Dataset(fides_key=key, name=str(raw.get("name") or key), collections=collections))
    _check_references(datasets, errors)
    if errors:
        raise DatasetError(errors)
    if not datasets:
        raise DatasetError([(1, "the file holds no dataset")])
    return datasets


def parse_one(text: str) -> Dataset:
    datasets = parse(text)
    if len(datasets) != 1:
        raise DatasetError([(1, f"expected one dataset per system file, found {len(datasets)}")])
    return datasets[0]


def personal_categories(ds: Dataset, mapping: dict[str, str] | None = None) -> dict[str, set[str]]:
    """Our category codes per collection (for the data map and the access package labels)."""
    out: dict[str, set[str]] = {}
    for coll in ds.collections.values():
        codes = {category_for(c, mapping) for f in coll.fields.values() for c in f.data_categories}
        out[coll.name] = {c for c in codes if c}
    return out


def as_dict_without_lines(value: Any) -> Any:
    """The parsed YAML without our `__line__` markers (for tests and JSON views)."""
    if isinstance(value, dict):
        return {k: as_dict_without_lines(v) for k, v in value.items() if k != "__line__"}
    if isinstance(value, list):
        return [as_dict_without_lines(v) for v in value]
    return value
