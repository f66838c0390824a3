"""A local HTTP server answering in the documented shapes of Mailchimp's and HubSpot's APIs.

Started by the test suite (a thread, a real socket); faults are queued per path prefix: a status code
(optionally with Retry-After), "malformed" (a non-JSON page) or "slow" (answers after the client's timeout).
"""

import base64
import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

MAILCHIMP_KEY = "mc-key-us1"
HUBSPOT_TOKEN = "pat-na1-test"


class State:
    def __init__(self):
        self.members: dict[str, dict] = {}  # subscriber_hash -> member
        self.contacts: dict[str, dict] = {}  # id -> contact
        self.unsubscribed: list[tuple[str, str]] = []
        self.faults: list[tuple[str, object, dict]] = []
        self.calls: list[tuple[str, str]] = []
        self.items = [{"id": n, "email": "jane@example.com"} for n in range(1, 8)]
        self.lock = threading.Lock()

    def add_member(self, email: str, **fields):
        h = hashlib.md5(email.lower().encode()).hexdigest()
        self.members[h] = {"id": h, "email_address": email, "status": "subscribed", "merge_fields": fields}

    def add_contact(self, cid: str, email: str, **props):
        self.contacts[cid] = {"id": cid, "properties": {"email": email, **props}, "archived": False}

    def fault(self, prefix: str, what, **headers):
        self.faults.append((prefix, what, headers))


class Handler(BaseHTTPRequestHandler):
    state: State

    def log_message(self, *args):  # quiet
        pass

    def _reply(self, code: int, doc=None, headers=None, raw: bytes | None = None):
        body = raw if raw is not None else (json.dumps(doc).encode() if doc is not None else b"")
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        if not raw:
            return None
        if "json" in (self.headers.get("Content-Type") or ""):
            return json.loads(raw)
        return parse_qs(raw.decode())

    def _fault(self, path) -> bool:
        with self.state.lock:
            index = next((i for i, f in enumerate(self.state.faults) if path.startswith(f[0])), None)
            if index is None:
                return False
            _, what, headers = self.state.faults.pop(index)
        if what == "malformed":
            self._reply(200, raw=b"<html>Bad gateway</html>")
        elif what == "slow":
            time.sleep(1.5)
            self._reply(200, {"results": []})
        else:
            self._reply(int(what), {"status": what}, headers)
        return True

    def _handle(self, method):
        url = urlparse(self.path)
        path = url.path
        body = self._body() if method in ("POST", "PATCH") else None
        self.state.calls.append((method, path))
        if self._fault(path):
            return
        if path.startswith("/3.0/"):
            return self._mailchimp(method, path[4:], body)
        if path.startswith("/crm/") or path.startswith("/communication-preferences/"):
            return self._hubspot(method, path, body)
        if path == "/generic/offset":
            q = parse_qs(url.query)
            off, lim = int(q["offset"][0]), int(q["limit"][0])
            return self._reply(200, {"data": self.state.items[off : off + lim]})
        if path == "/generic/link":
            page = int(parse_qs(url.query).get("page", ["1"])[0])
            items = self.state.items[(page - 1) * 3 : page * 3]
            headers = {}
            if page * 3 < len(self.state.items):
                headers["Link"] = f'<http://{self.headers["Host"]}/generic/link?page={page + 1}>; rel="next"'
            return self._reply(200, {"items": items}, headers)
        if path == "/oauth/token":
            return self._reply(200, {"access_token": "oauth-token", "expires_in": 3600})
        if path == "/generic/oauth":
            ok = self.headers.get("Authorization") == "Bearer oauth-token"
            return self._reply(200 if ok else 401, {"items": [{"id": 1}]} if ok else {})
        if path == "/generic/apikey":
            ok = self.headers.get("X-Api-Key") == "k-123"
            return self._reply(200 if ok else 401, {"items": [{"id": 1}]} if ok else {})
        return self._reply(404, {"status": 404})

    def _mailchimp(self, method, path, body):
        expected = "Basic " + base64.b64encode(f"privacyops:{MAILCHIMP_KEY}".encode()).decode()
        if self.headers.get("Authorization") != expected:
            return self._reply(401, {"title": "API Key Missing", "status": 401})
        parts = path.strip("/").split("/")  # lists, L1, members, hash[, actions, delete-permanent]
        if len(parts) < 4 or parts[0] != "lists" or parts[2] != "members":
            return self._reply(404, {"title": "Resource Not Found", "status": 404})
        member = self.state.members.get(parts[3])
        if member is None:
            return self._reply(404, {"title": "Resource Not Found", "status": 404})
        if method == "GET":
            return self._reply(200, {**member, "list_id": parts[1]})
        if method == "POST" and parts[4:] == ["actions", "delete-permanent"]:
            del self.state.members[parts[3]]
            return self._reply(204)
        if method == "PATCH":
            member.update(body or {})
            return self._reply(200, member)
        return self._reply(405, {"status": 405})

    def _hubspot(self, method, path, body):
        if self.headers.get("Authorization") != f"Bearer {HUBSPOT_TOKEN}":
            return self._reply(401, {"status": "error", "category": "INVALID_AUTHENTICATION"})
        if path == "/crm/v3/objects/contacts/search":
            email = body["filterGroups"][0]["filters"][0]["value"]
            found = [c for c in self.state.contacts.values() if c["properties"]["email"] == email]
            start = int(body.get("after") or 0)
            page = found[start : start + int(body.get("limit", 100))]
            doc = {"total": len(found), "results": page}
            if start + len(page) < len(found):
                doc["paging"] = {"next": {"after": str(start + len(page))}}
            return self._reply(200, doc)
        if path == "/crm/v3/objects/contacts/gdpr-delete":
            if self.state.contacts.pop(str(body["objectId"]), None) is None:
                return self._reply(404, {"status": "error", "category": "OBJECT_NOT_FOUND"})
            return self._reply(204)
        if path == "/communication-preferences/v3/unsubscribe":
            self.state.unsubscribed.append((body["emailAddress"], body["subscriptionId"]))
            return self._reply(200, {"recipient": body["emailAddress"], "status": "NOT_SUBSCRIBED"})
        return self._reply(404, {"status": "error"})

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def do_PATCH(self):
        self._handle("PATCH")


def start() -> tuple[ThreadingHTTPServer, State, str]:
    state = State()
    handler = type("BoundHandler", (Handler,), {"state": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, state, f"http://127.0.0.1:{server.server_address[1]}"
