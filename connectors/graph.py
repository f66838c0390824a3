"""The traversal plan of one system's datasets: seeds (identity fields), edges (references), orders.

Shared by the SQL and HTTP connectors. Collection names are qualified "dataset:collection" only when a
system has several datasets; inside one dataset they are the collection's own name.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from .fides import Collection, Dataset

ERASE_DELETE = "delete"
ERASE_NULL = "null"
ERASE_HASH = "hash"
ERASE_KEEP = "keep"
FIELD_STRATEGIES = (ERASE_NULL, ERASE_HASH)
COLLECTION_STRATEGIES = (ERASE_DELETE, ERASE_KEEP)


@dataclass(frozen=True)
class Edge:
    """Values of `source.source_field` are looked up in `target.target_field`."""

    source: str
    source_field: str
    target: str
    target_field: str


@dataclass
class Graph:
    collections: dict[str, Collection]
    seeds: dict[str, list[tuple[str, str]]]  # identity -> [(collection, field)]
    edges: list[Edge]
    dataset_of: dict[str, str]
    order: list[str] = field(default_factory=list)

    def outgoing(self, collection: str) -> list[Edge]:
        return [e for e in self.edges if e.source == collection]

    def lookup_fields(self, collection: str) -> set[str]:
        fields = {e.target_field for e in self.edges if e.target == collection}
        fields |= {f for pairs in self.seeds.values() for c, f in pairs if c == collection}
        return fields

    def reachable(self, identities: set[str]) -> set[str]:
        seen = {c for ident in identities for c, _ in self.seeds.get(ident, [])}
        frontier = list(seen)
        while frontier:
            c = frontier.pop()
            for e in self.outgoing(c):
                if e.target not in seen:
                    seen.add(e.target)
                    frontier.append(e.target)
        return seen

    def paths(self) -> list[list[str]]:
        """Every identity's paths: [identity, "collection.field", "collection.field", ...] (data map view)."""
        out: list[list[str]] = []
        for ident, pairs in sorted(self.seeds.items()):
            for c, f in pairs:
                stack = [([f"identity:{ident}", f"{c}.{f}"], c, {c})]
                while stack:
                    path, at, seen = stack.pop()
                    nexts = [e for e in self.outgoing(at) if e.target not in seen]
                    if not nexts:
                        out.append(path)
                    for e in nexts:
                        stack.append(([*path, f"{e.target}.{e.target_field}"], e.target, seen | {e.target}))
        return out

    def parents_first(self) -> list[str]:
        """Collections with the referenced (parent) side before the referencing (child) side."""
        children: dict[str, set[str]] = defaultdict(set)
        for e in self.edges:
            child = self.child_of(e)
            if child:
                parent = e.source if child == e.target else e.target
                children[parent].add(child)
        return _topological(list(self.collections), children)

    def child_of(self, e: Edge) -> str | None:
        """The side holding the foreign key: the one whose field is not its collection's primary key."""
        src_pk = e.source_field in self.collections[e.source].primary_key
        tgt_pk = e.target_field in self.collections[e.target].primary_key
        if src_pk and not tgt_pk:
            return e.target
        if tgt_pk and not src_pk:
            return e.source
        return None


def _topological(nodes: list[str], after: dict[str, set[str]]) -> list[str]:
    """Kahn's order (stable by name); nodes on a cycle keep their name order at the end."""
    indegree = {n: 0 for n in nodes}
    for n in nodes:
        for m in after.get(n, ()):
            if m in indegree and m != n:
                indegree[m] += 1
    ready = sorted(n for n, d in indegree.items() if d == 0)
    out: list[str] = []
    while ready:
        n = ready.pop(0)
        out.append(n)
        for m in sorted(after.get(n, ())):
            if m in indegree and m != n:
                indegree[m] -= 1
                if indegree[m] == 0:
                    ready.append(m)
        ready.sort()
    out += sorted(n for n in nodes if n not in out)
    return out


def build(datasets: list[Dataset]) -> Graph:
    """The graph of one system: references to datasets outside it are ignored (another system's run)."""
    qualify = len(datasets) > 1
    keys = {d.fides_key for d in datasets}
    collections: dict[str, Collection] = {}
    dataset_of: dict[str, str] = {}

    def name(ds_key: str, coll: str) -> str:
        return f"{ds_key}:{coll}" if qualify else coll

    for ds in datasets:
        for coll in ds.collections.values():
            collections[name(ds.fides_key, coll.name)] = coll
            dataset_of[name(ds.fides_key, coll.name)] = ds.fides_key
    seeds: dict[str, list[tuple[str, str]]] = defaultdict(list)
    edges: list[Edge] = []
    for ds in datasets:
        for coll in ds.collections.values():
            here = name(ds.fides_key, coll.name)
            for f in coll.fields.values():
                if f.identity:
                    seeds[f.identity].append((here, f.name))
                for ref in f.references:
                    if ref.dataset not in keys:
                        continue
                    there = name(ref.dataset, ref.collection)
                    if there not in collections:
                        continue
                    if ref.direction in ("from", None):
                        edges.append(Edge(there, ref.field, here, f.name))
                    if ref.direction in ("to", None):
                        edges.append(Edge(here, f.name, there, ref.field))
    graph = Graph(collections=collections, seeds=dict(seeds), edges=edges, dataset_of=dataset_of)
    after: dict[str, set[str]] = defaultdict(set)
    for e in edges:
        after[e.source].add(e.target)
    graph.order = _topological(list(collections), after)
    return graph


def erase_plan(graph: Graph, erase: dict[str, str]) -> dict[str, str | dict[str, str]]:
    """Per collection: "delete", "keep", or {field: "null" | "hash"}.

    Explicit entries win ("orders" -> "delete", "orders.note" -> "hash"); otherwise identity fields
    are hashed (they stop matching, stay recognisable) and other personal fields nulled; primary keys
    and reference fields are never touched.
    """
    plan: dict[str, str | dict[str, str]] = {}
    for cname, coll in graph.collections.items():
        short = cname.split(":")[-1]
        explicit = erase.get(cname) or erase.get(short)
        if explicit in COLLECTION_STRATEGIES:
            plan[cname] = explicit
            continue
        keyed = {e.source_field for e in graph.edges if e.source == cname}
        keyed |= {e.target_field for e in graph.edges if e.target == cname}
        fields: dict[str, str] = {}
        for f in coll.fields.values():
            chosen = erase.get(f"{cname}.{f.name}") or erase.get(f"{short}.{f.name}")
            if chosen in FIELD_STRATEGIES:
                fields[f.name] = chosen
            elif chosen is None and f.is_personal and not f.primary_key and f.name not in keyed:
                fields[f.name] = ERASE_HASH if f.identity else ERASE_NULL
            elif chosen is None and f.identity and not f.primary_key:
                fields[f.name] = ERASE_HASH
        plan[cname] = fields if fields else ERASE_KEEP
    return plan


def validate_erase(graph: Graph, erase: dict[str, str]) -> list[str]:
    """Problems in an erase mapping, by name (unknown collections/fields, unknown strategies, no key)."""
    problems = []
    shorts = {c.split(":")[-1]: c for c in graph.collections}
    for key, strategy in erase.items():
        coll, _, fname = key.partition(".")
        cname = coll if coll in graph.collections else shorts.get(coll)
        if cname is None:
            problems.append(f"erase: unknown collection {coll!r}")
            continue
        if fname:
            if fname not in graph.collections[cname].fields:
                problems.append(f"erase: unknown field {key!r}")
            if strategy not in FIELD_STRATEGIES:
                problems.append(f"erase: {key!r} must be one of {', '.join(FIELD_STRATEGIES)}")
        elif strategy not in COLLECTION_STRATEGIES:
            problems.append(f"erase: {key!r} must be one of {', '.join(COLLECTION_STRATEGIES)}")
    for cname, strategy in erase_plan(graph, erase).items():
        if strategy != ERASE_KEEP and not graph.collections[cname].primary_key:
            problems.append(f"{cname}: erasure needs a field with `primary_key: true`")
    return problems
