"""A small SMTP server for tests (standard library only), speaking enough of RFC 5321 for
``smtplib`` and Django's SMTP backend: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT.

Like a real MTA, a message counts only once its terminating ``<CRLF>.<CRLF>`` has arrived: a
connection that drops in the middle of DATA leaves nothing (counted in ``discarded``). The
``250`` after DATA can be delayed (``reply_delay``) to widen the window between the server
taking a message and the client hearing about it, and DATA can be answered with an error
(``data_reply``).
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import sys
import threading
import time
from dataclasses import dataclass
from email import message_from_bytes
from email.message import Message as EmailMessage
from typing import Self


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_to: tuple[str, ...]
    data: bytes

    @property
    def email(self) -> EmailMessage:
        return message_from_bytes(self.data)


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")
        self.wfile.flush()

    def handle(self) -> None:
        fake = self.server.fake
        with fake.lock:
            fake.connections += 1
            fake.sockets.add(self.connection)
        try:
            self._converse(fake)
        finally:
            with fake.lock:
                fake.sockets.discard(self.connection)

    def _converse(self, fake: SmtpFake) -> None:
        mail_from = ""
        rcpt: list[str] = []
        self.reply("220 fake-smtp ready")
        while True:
            line = self.rfile.readline()
            if not line:
                return
            command = line.decode("latin-1").strip()
            verb = command[:4].upper()
            if verb in {"EHLO", "HELO"}:
                self.wfile.write(b"250-fake-smtp\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")
                self.wfile.flush()
            elif verb == "MAIL":
                mail_from, rcpt = command.split(":", 1)[1].strip(), []
                self.reply("250 OK")
            elif verb == "RCPT":
                address = command.split(":", 1)[1].strip().strip("<>")
                if address in fake.refuse:
                    self.reply("550 No such user")
                else:
                    rcpt.append(address)
                    self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                if fake.drop_in_data:  # the server goes away in the middle of the message
                    with fake.lock:
                        fake.discarded += 1
                    return
                lines: list[bytes] = []
                while True:
                    chunk = self.rfile.readline()
                    if not chunk or not chunk.endswith(b"\n"):  # dropped before the end
                        with fake.lock:
                            fake.discarded += 1
                        return
                    if chunk == b".\r\n":
                        break
                    lines.append(chunk[1:] if chunk.startswith(b"..") else chunk)
                if fake.reply_delay:
                    time.sleep(fake.reply_delay)
                if fake.drop_after_data:  # took the whole message, then died before answering
                    with fake.lock:
                        fake.received.append(Received(mail_from, tuple(rcpt), b"".join(lines)))
                    return
                if fake.data_reply:
                    self.reply(fake.data_reply)
                else:
                    with fake.lock:
                        fake.received.append(Received(mail_from, tuple(rcpt), b"".join(lines)))
                    self.reply("250 OK queued")
                mail_from, rcpt = "", []
            elif verb == "RSET":
                mail_from, rcpt = "", []
                self.reply("250 OK")
            elif verb == "NOOP":
                self.reply("250 OK")
            elif verb == "QUIT":
                self.reply("221 Bye")
                return
            else:
                self.reply("502 Command not implemented")


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    fake: SmtpFake

    def handle_error(self, request: object, client_address: object) -> None:
        # A client killed mid-conversation (the tests SIGKILL workers) resets the connection.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class SmtpFake:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.lock = threading.Lock()
        self.sockets: set[socket.socket] = set()
        self._server = _Server((host, port), _Handler)
        self._server.fake = self
        self.host, self.port = self._server.server_address[:2]
        self._thread: threading.Thread | None = None
        self.reset()

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}?tls=false"

    def reset(self) -> None:
        with self.lock:
            self.received: list[Received] = []
            self.discarded = 0
            self.connections = 0
        self.reply_delay = 0.0
        self.data_reply = ""
        self.drop_in_data = False
        self.drop_after_data = False
        self.refuse: set[str] = set()

    def hang_up(self) -> None:
        """Close every open connection (an idle timeout, a restart)."""
        with self.lock:
            sockets = list(self.sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def start(self) -> Self:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_listening(self) -> None:
        socket.create_connection((self.host, self.port), timeout=2).close()
