"""A real SMTP server on loopback (aiosmtpd) for the tests and the notices bench.

Django's locmem backend can't show what batched delivery must get right: one reused connection, a
server that drops the connection in the middle of a batch, a 4xx or 5xx reply for one recipient, a
slow server. This server runs in a thread of the calling process and behaves as told:

- `refuse[address] = (code, "text")`   reply to RCPT TO of that address with the code (4xx or 5xx);
- `drop_after = k`                      close the connection instead of answering the DATA of the
                                        (k+1)-th message of the server's life (once; then reset);
- `delay = seconds`                     wait this long before answering each DATA (a slow server).

`messages` holds (recipient, Message-ID) of every message accepted; `connections` counts the SMTP
connections opened to it.
"""

import asyncio
import socket
import threading
from email import message_from_bytes

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP


class Handler:
    def __init__(self, box: "SMTPServer") -> None:
        self.box = box

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        refused = self.box.refuse.get(address)
        if refused is not None:
            return f"{refused[0]} {refused[1]}"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        box = self.box
        if box.delay:
            await asyncio.sleep(box.delay)
        with box.lock:
            if box.drop_after is not None and box.data_seen >= box.drop_after:
                box.drop_after = None
                server.transport.close()  # the connection goes away before the message is accepted
                return "421 closing"
            box.data_seen += 1
            message_id = message_from_bytes(envelope.content).get("Message-ID", "")
            for rcpt in envelope.rcpt_tos:
                box.messages.append((rcpt, message_id))
        return "250 Message accepted for delivery"


class _CountingController(Controller):
    def __init__(self, box: "SMTPServer", **kwargs) -> None:
        self.box = box
        super().__init__(Handler(box), **kwargs)

    def factory(self):
        with self.box.lock:
            self.box.connections += 1
        return SMTP(self.handler, **self.SMTP_kwargs)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SMTPServer:
    """Start with `start()`, stop with `stop()`; `reset()` clears counters and behaviours."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.host = "127.0.0.1"
        self.port = _free_port()
        self.reset()
        self._controller = _CountingController(self, hostname=self.host, port=self.port)

    def reset(self) -> None:
        self.messages: list[tuple[str, str]] = []
        self.connections = 0
        self.data_seen = 0
        self.refuse: dict[str, tuple[int, str]] = {}
        self.drop_after: int | None = None
        self.delay = 0.0

    def start(self) -> "SMTPServer":
        self._controller.start()
        with self.lock:
            self.connections = 0  # the controller's own start-up probe
        return self

    def stop(self) -> None:
        self._controller.stop()

    def recipients(self) -> list[str]:
        return [rcpt for rcpt, _ in self.messages]

    def django_settings(self) -> dict:
        return {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": self.host,
            "EMAIL_PORT": self.port,
            "EMAIL_USE_TLS": False,
            "EMAIL_USE_SSL": False,
            "EMAIL_HOST_USER": "",
            "EMAIL_HOST_PASSWORD": "",
        }


def _serve(conn) -> None:
    server = SMTPServer().start()
    conn.send((server.host, server.port))
    while True:
        command = conn.recv()
        if command == "stats":
            with server.lock:
                ids = [m for _, m in server.messages]
                conn.send((len(ids), len(set(ids)), server.connections))
        elif command == "message_ids":
            with server.lock:
                conn.send([m for _, m in server.messages])
        elif command == "reset":
            with server.lock:
                server.reset()
            conn.send(None)
        else:
            server.stop()
            conn.send(None)
            return


class SMTPServerProcess:
    """The same server in its own process (the bench): a mail server is another process, and in
    ours it would compete with the sender for the interpreter lock. `stats()` returns (messages
    accepted, distinct Message-IDs, connections opened)."""

    def __init__(self) -> None:
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(target=_serve, args=(child,), daemon=True)

    def start(self) -> "SMTPServerProcess":
        self._process.start()
        self.host, self.port = self._conn.recv()
        return self

    def stats(self) -> tuple[int, int, int]:
        self._conn.send("stats")
        return self._conn.recv()

    def message_ids(self) -> list[str]:
        """The Message-ID of every message accepted, in order (a message accepted twice appears twice)."""
        self._conn.send("message_ids")
        return self._conn.recv()

    def reset(self) -> None:
        self._conn.send("reset")
        self._conn.recv()

    def stop(self) -> None:
        self._conn.send("stop")
        self._conn.recv()
        self._process.join(timeout=10)

    django_settings = SMTPServer.django_settings
