"""HTTP systems declared in YAML (httpx): auth, operations, pagination, retries, a per-system rate limit.

A configuration names, per operation (read / update / delete / unsubscribe), requests built from
templates: `{identity.email}`, `{identity.email_md5}` (lower-cased, as Mailchimp's subscriber hash),
`{secrets.NAME}` (sealed credentials) and, for operations with `for_each: <collection>`, `{row.FIELD}`
of each row read. Reads follow offset, cursor or Link-header pagination and take rows at `data_path`.
429 and 5xx answers and transport errors are retried with exponential backoff, honouring Retry-After
up to a bound; then the run fails with the status code (never the response body: it may hold data).
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import json
import logging
import re
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

import httpx
import yaml

from . import conf, ratelimit
from .sql import CollectionResult, ErasureStep, Traversal

AUTH_TYPES = ("none", "bearer", "basic", "api_key", "oauth2_client_credentials")
OPERATIONS = ("read", "update", "delete", "unsubscribe")
PAGINATION = ("none", "offset", "cursor", "link")
# httpx logs every URL at INFO; ours carry identities (an email in a path, its hash): never log them.
logging.getLogger("httpx").setLevel(logging.WARNING)
logging.getLogger("httpcore").setLevel(logging.WARNING)
_TEMPLATE = re.compile(r"\{(identity|secrets|row)\.([A-Za-z0-9_]+)\}")
_TLS: list[ssl.SSLContext] = []
_TLS_LOCK = threading.Lock()


def tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process, shared by every client (SSLContext is thread-safe).

    httpx builds a new one per Client by loading the whole CA bundle: about 40 ms holding the GIL, twice
    per erasure run (read, then delete) — most of an HTTP run's time on a worker. Same verification.
    """
    with _TLS_LOCK:
        if not _TLS:
            _TLS.append(httpx.create_ssl_context())
        return _TLS[0]


class HttpConfigError(ValueError):
    """A connector configuration that cannot be used (message says what and where)."""


class HttpError(Exception):
    """The API refused or failed after retries (status code and operation only, no response body)."""


@dataclass
class Request:
    collection: str
    method: str
    path: str
    params: dict[str, Any] = field(default_factory=dict)
    body: Any = None
    data_path: str = ""
    key: str = "id"
    for_each: str = ""
    pagination: dict[str, Any] = field(default_factory=dict)
    not_found_is_empty: bool = True


@dataclass
class HttpConfig:
    name: str
    base_url: str
    auth: dict[str, Any]
    operations: dict[str, list[Request]]
    timeout: float
    retries: int
    retry_base_seconds: float
    rate_limit_per_second: float


@lru_cache(maxsize=64)
def parsed_config(text: str) -> HttpConfig:
    """`parse_config`, once per configuration text and process: parsing the YAML was ~3 ms of every HTTP
    run. Shared: callers that adjust the result copy it first (`replace`)."""
    return parse_config(text)


def parse_config(text: str) -> HttpConfig:
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise HttpConfigError(f"line {mark.line + 1 if mark else 0}: not valid YAML") from None
    if not isinstance(raw, dict) or not raw.get("base_url"):
        raise HttpConfigError("the configuration needs a `base_url`")
    auth = raw.get("auth") or {"type": "none"}
    if auth.get("type") not in AUTH_TYPES:
        raise HttpConfigError(f"auth.type must be one of {', '.join(AUTH_TYPES)}")
    operations: dict[str, list[Request]] = {}
    for op, items in (raw.get("operations") or {}).items():
        if op not in OPERATIONS:
            raise HttpConfigError(f"unknown operation {op!r} (one of {', '.join(OPERATIONS)})")
        reqs = []
        for item in items if isinstance(items, list) else [items]:
            if not isinstance(item, dict) or not item.get("method") or not item.get("path"):
                raise HttpConfigError(f"each {op} request needs `method` and `path`")
            pagination = item.get("pagination") or {"type": "none"}
            if pagination.get("type") not in PAGINATION:
                raise HttpConfigError(f"pagination.type must be one of {', '.join(PAGINATION)}")
            reqs.append(
                Request(
                    collection=str(item.get("collection") or op),
                    method=str(item["method"]).upper(),
                    path=str(item["path"]),
                    params=item.get("params") or {},
                    body=item.get("body"),
                    data_path=str(item.get("data_path") or ""),
                    key=str(item.get("key") or "id"),
                    for_each=str(item.get("for_each") or ""),
                    pagination=pagination,
                    not_found_is_empty=bool(item.get("not_found_is_empty", True)),
                )
            )
        operations[op] = reqs
    if "read" not in operations:
        raise HttpConfigError("the configuration needs a `read` operation (access requests)")
    return HttpConfig(
        name=str(raw.get("name") or ""),
        base_url=str(raw["base_url"]),
        auth=auth,
        operations=operations,
        timeout=float(raw.get("timeout_seconds") or conf.http_timeout_seconds()),
        retries=int(raw.get("retries", conf.http_max_retries())),
        retry_base_seconds=float(raw.get("retry_base_seconds", 0.5)),
        rate_limit_per_second=float(raw.get("rate_limit_per_second") or 0),
    )


def _identity_context(identities: dict[str, list[str]]) -> dict[str, str]:
    ctx: dict[str, str] = {}
    for name, values in identities.items():
        if values:
            ctx[name] = str(values[0])
    if "email" in ctx:
        normalized = ctx["email"].strip().lower()
        ctx["email"] = normalized
        ctx["email_md5"] = hashlib.md5(normalized.encode(), usedforsecurity=False).hexdigest()
    return ctx


def render(value: Any, ctx: dict[str, dict[str, Any]]) -> Any:
    """Fill templates in strings, lists and dicts; a missing name is a configuration error."""
    if isinstance(value, str):

        def sub(m: re.Match) -> str:
            scope, name = m.group(1), m.group(2)
            if name not in ctx.get(scope, {}):
                raise HttpConfigError(f"template {{{scope}.{name}}} has no value")
            return str(ctx[scope][name])

        return _TEMPLATE.sub(sub, value)
    if isinstance(value, list):
        return [render(v, ctx) for v in value]
    if isinstance(value, dict):
        return {k: render(v, ctx) for k, v in value.items()}
    return value


def dig(doc: Any, path: str) -> Any:
    for part in [p for p in path.split(".") if p]:
        if not isinstance(doc, dict) or part not in doc:
            return None
        doc = doc[part]
    return doc


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


@dataclass
class HttpConnector:
    """Runs a configuration against one system, with its sealed secrets opened in memory."""

    config: HttpConfig
    secrets: dict[str, Any] = field(repr=False)  # never in a traceback's locals
    limiter_key: Any = None
    row_cap: int = 10_000
    sleep: Callable[[float], None] = time.sleep
    transport: httpx.BaseTransport | None = None
    _token: tuple[str, float] | None = field(default=None, repr=False)

    @classmethod
    def from_connection(cls, connection: Any, *, secrets: dict[str, Any]) -> HttpConnector:
        config = replace(parsed_config(connection.config))  # its own copy to adjust
        if connection.rate_limit_per_second:
            config.rate_limit_per_second = connection.rate_limit_per_second
        return cls(
            config=config, secrets=secrets, limiter_key=connection.system_id, row_cap=connection.row_cap
        )

    # --- plumbing --------------------------------------------------------------------------------

    def _client(self) -> httpx.Client:
        # `secrets.base_url` overrides the documented one (a regional host, a sandbox, the test server).
        base = self.secrets.get("base_url") or render(self.config.base_url, {"secrets": self.secrets})
        return httpx.Client(
            base_url=base, timeout=self.config.timeout, transport=self.transport, verify=tls_context()
        )

    def _auth_headers(self, client: httpx.Client) -> dict[str, str]:
        auth = render(self.config.auth, {"secrets": self.secrets})
        kind = auth.get("type", "none")
        if kind == "bearer":
            return {"Authorization": f"Bearer {auth['token']}"}
        if kind == "api_key":
            return {auth.get("header", "X-API-Key"): str(auth["key"])}
        if kind == "basic":
            pair = f"{auth.get('username', '')}:{auth.get('password', '')}".encode()
            return {"Authorization": "Basic " + base64.b64encode(pair).decode()}
        if kind == "oauth2_client_credentials":
            if self._token is None or self._token[1] <= time.monotonic():
                response = self._send(
                    client, "POST", auth["token_url"], data={
                        "grant_type": "client_credentials",
                        "client_id": auth["client_id"],
                        "client_secret": auth["client_secret"],
                        **({"scope": auth["scope"]} if auth.get("scope") else {}),
                    }, headers={}, what="oauth2 token",
                )  # fmt: skip
                doc = self._json(response, "oauth2 token")
                self._token = (doc["access_token"], time.monotonic() + float(doc.get("expires_in", 300)) - 30)
            return {"Authorization": f"Bearer {self._token[0]}"}
        return {}

    def _send(self, client: httpx.Client, method: str, url: str, *, headers: dict, what: str, **kw: Any):
        attempt = 0
        while True:
            ratelimit.wait(self.limiter_key, self.config.rate_limit_per_second, self.sleep)
            try:
                response = client.request(method, url, headers=headers, **kw)
            except httpx.TransportError as exc:
                problem, response = type(exc).__name__, None
            else:
                if response.status_code != 429 and response.status_code < 500:
                    return response
                problem = f"HTTP {response.status_code}"
            if attempt >= self.config.retries:
                raise HttpError(f"{what}: {problem} after {attempt + 1} attempt(s)")
            wait = self.config.retry_base_seconds * (2**attempt)
            if response is not None and (after := _retry_after(response)) is not None:
                if after > conf.http_max_retry_after_seconds():
                    raise HttpError(f"{what}: {problem}, Retry-After {after:.0f}s is longer than we wait")
                wait = after
            self.sleep(wait)
            attempt += 1

    @staticmethod
    def _json(response: httpx.Response, what: str) -> Any:
        try:
            return response.json()
        except ValueError:
            raise HttpError(f"{what}: malformed response (not JSON), HTTP {response.status_code}") from None

    def _call(self, client: httpx.Client, req: Request, ctx: dict, headers: dict, what: str, **extra: Any):
        # A next-page URL (Link header) already carries its query: send it as it is.
        kw: dict[str, Any] = (
            {} if extra.get("url") else {"params": {**render(req.params, ctx), **extra.get("params", {})}}
        )
        body = render(req.body, ctx) if req.body is not None else None
        if extra.get("body"):
            body = {**(body or {}), **extra["body"]}
        if body is not None:
            kw["json"] = body
        url = extra.get("url") or render(req.path, ctx)
        return self._send(client, req.method, url, headers=headers, what=what, **kw)

    # --- operations ------------------------------------------------------------------------------

    def _read(self, client: httpx.Client, req: Request, ctx: dict, headers: dict) -> CollectionResult:
        result = CollectionResult()
        what = f"read {req.collection}"
        page = req.pagination
        kind = page.get("type", "none")
        size = int(page.get("page_size", 100))
        offset, cursor, url = 0, None, None
        for number in range(1, 10_000):
            extra: dict[str, Any] = {}
            if kind == "offset":
                extra["params"] = {
                    page.get("offset_param", "offset"): offset,
                    page.get("limit_param", "limit"): size,
                }
            elif kind == "cursor" and cursor is not None:
                target = "body" if page.get("cursor_in") == "body" else "params"
                extra[target] = {page.get("cursor_param", "after"): cursor}
            if url:
                extra["url"] = url
            response = self._call(client, req, ctx, headers, what, **extra)
            if response.status_code == 404 and req.not_found_is_empty:
                return result
            if response.status_code >= 400:
                raise HttpError(f"{what}: HTTP {response.status_code}")
            doc = self._json(response, f"{what} page {number}")
            rows = dig(doc, req.data_path) if req.data_path else doc
            if isinstance(rows, dict):
                rows = [rows]
            if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
                raise HttpError(
                    f"{what} page {number}: malformed response (no list at {req.data_path or 'top'})"
                )
            room = self.row_cap - len(result.rows)
            if len(rows) > room:
                result.rows.extend(rows[:room])
                result.truncated = True
                return result
            result.rows.extend(rows)
            if kind == "offset":
                if len(rows) < size:
                    return result
                offset += len(rows)
            elif kind == "cursor":
                cursor = dig(doc, page.get("cursor_path", "paging.next.after"))
                if not cursor:
                    return result
            elif kind == "link":
                url = response.links.get("next", {}).get("url")
                if not url:
                    return result
            else:
                return result
        return result

    def access(self, identities: dict[str, list[str]]) -> Traversal:
        ctx = {"identity": _identity_context(identities), "secrets": self.secrets}
        collections: dict[str, CollectionResult] = {}
        queries = 0
        with self._client() as client:
            headers = self._auth_headers(client)
            for req in self.config.operations["read"]:
                text = json.dumps([req.path, req.params, req.body])
                needed = {m.group(2) for m in _TEMPLATE.finditer(text) if m.group(1) == "identity"}
                if not needed <= ctx["identity"].keys():
                    continue  # this read needs an identity the case does not have
                collections[req.collection] = self._read(client, req, ctx, headers)
                queries += 1
        return Traversal(collections=collections, queries=queries)

    def steps(self, found: Traversal) -> list[ErasureStep]:
        """One step per collection the delete (or update) operations iterate, keyed by the row key."""
        ops = self.config.operations.get("delete") or self.config.operations.get("update") or []
        steps = []
        for req in ops:
            source = req.for_each or req.collection
            rows = found.collections.get(source, CollectionResult()).rows
            if rows:
                keys = [[r.get(req.key)] for r in rows if r.get(req.key) is not None]
                steps.append(ErasureStep(source, self.config.name, "delete", [req.key], keys))
        return steps

    def apply(self, steps: list[ErasureStep]) -> dict[str, int]:
        ops = self.config.operations.get("delete") or self.config.operations.get("update") or []
        counts: dict[str, int] = {}
        with self._client() as client:
            headers = self._auth_headers(client)
            for step in steps:
                for req in [r for r in ops if (r.for_each or r.collection) == step.collection]:
                    done = 0
                    for key in step.keys:
                        ctx = {"row": {req.key: key[0]}, "secrets": self.secrets}
                        response = self._call(client, req, ctx, headers, f"delete {step.collection}")
                        if response.status_code == 404:
                            continue  # already gone: idempotent
                        if response.status_code >= 400:
                            raise HttpError(f"delete {step.collection}: HTTP {response.status_code}")
                        done += 1
                    counts[step.collection] = counts.get(step.collection, 0) + done
        return counts

    def apply_journaled(self, steps: list[ErasureStep], journal: Callable[[], None]) -> dict[str, int]:
        """Journal first (committed), then the deletes: an API has no transaction to hold open."""
        journal()
        return self.apply(steps)

    def unsubscribe(self, identities: dict[str, list[str]]) -> dict[str, int]:
        ops = self.config.operations.get("unsubscribe") or []
        ctx = {"identity": _identity_context(identities), "secrets": self.secrets}
        counts: dict[str, int] = {}
        with self._client() as client:
            headers = self._auth_headers(client)
            for req in ops:
                response = self._call(client, req, ctx, headers, f"unsubscribe {req.collection}")
                if response.status_code == 404:
                    counts[req.collection] = 0
                elif response.status_code >= 400:
                    raise HttpError(f"unsubscribe {req.collection}: HTTP {response.status_code}")
                else:
                    counts[req.collection] = 1
        return counts

    def probe(self) -> str:
        with self._client() as client:
            headers = self._auth_headers(client)
            response = self._send(client, "GET", "", headers=headers, what="test connection")
        return f"{self.config.name or 'API'} answered HTTP {response.status_code}"
