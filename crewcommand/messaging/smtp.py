"""SMTP with a hand-off point: the outbox records an email as handed over in the same instant
the mail server can first take it.

An SMTP server takes a message when it reads the end of DATA (``<CRLF>.<CRLF>``); a connection
that drops before that leaves nothing. ``HandOffSMTP.data`` sends the DATA command and the
dot-quoted message *without* that terminator, then calls the hook set by ``handing_off``. The
outbox's hook opens a transaction, marks the row handed (a conditional UPDATE, the claim
still held), writes the terminator to the socket (``sendall``) and commits. So:

- a worker killed before the terminator reached the kernel: PostgreSQL rolls back the open
  transaction (its connection dropped) and the server discards the unterminated message; the
  row is sent again, correctly;
- a worker killed after it: the kernel still delivers the buffered terminator (and closes
  the socket after it), and the COMMIT follows within microseconds; the row is handed, and is
  recorded as sent without sending it again.

What is left is the Python between ``sendall`` returning and COMMIT being written to
PostgreSQL's socket (microseconds): a kill there would send the message again. Then the
server's answer is read: ``250`` records the row sent; an error reply (4xx/5xx) is a refusal
(the outbox clears the hand-off and retries or fails as before).
"""

from __future__ import annotations

import contextlib
import logging
import select
import smtplib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.core.mail.backends import smtp as django_smtp

logger = logging.getLogger(__name__)

CRLF = b"\r\n"
TERMINATOR = b"." + CRLF

HandOffHook = Callable[[Callable[[], None]], None]


@dataclass
class HandOff:
    """One message's hand-off: ``hook(write_terminator)`` must call ``write_terminator``
    (or raise, and the message is abandoned: the connection is dropped before its end)."""

    hook: HandOffHook
    # Called at once when the server answers the end of DATA with anything but 250 (it refused
    # the message): the outbox clears the hand-off before anything else happens.
    refused: Callable[[], None] | None = None
    # Set once the terminator is in the socket: from then on the server may have the message.
    terminated: bool = False
    # Set when DATA was answered 354 (the message itself started going out).
    started: bool = False


_current: ContextVar[HandOff | None] = ContextVar("smtp_handoff", default=None)


@contextlib.contextmanager
def handing_off(hook: HandOffHook, refused: Callable[[], None] | None = None) -> Iterator[HandOff]:
    """Messages sent through ``HandOffSMTP`` inside this block call ``hook`` at their end."""
    state = HandOff(hook, refused)
    token = _current.set(state)
    try:
        yield state
    finally:
        _current.reset(token)


def _quote(msg: bytes | str) -> bytes:
    if isinstance(msg, str):
        msg = smtplib._fix_eols(msg).encode("ascii")  # type: ignore[attr-defined]
    quoted: bytes = smtplib._quote_periods(msg)  # type: ignore[attr-defined]
    if quoted[-2:] != CRLF:
        quoted += CRLF
    return quoted


def _peer_spoke(sock: Any) -> bool:
    """Whether the server sent anything (EOF included) since its 354: nothing is expected
    before the end of DATA."""
    if sock is None:
        return True
    pending = getattr(sock, "pending", None)
    if pending is not None and pending():
        return True
    readable, _, _ = select.select([sock], [], [], 0)
    return bool(readable)


class HandOffMixin:
    """``smtplib.SMTP.data`` with the end of DATA written by the hand-off hook."""

    def data(self, msg: bytes | str) -> tuple[int, bytes]:
        state = _current.get()
        if state is None:
            return super().data(msg)  # type: ignore[misc]
        smtp: Any = self
        smtp.putcmd("data")
        code, reply = smtp.getreply()
        if code != 354:
            raise smtplib.SMTPDataError(code, reply)
        state.started = True
        smtp.send(_quote(msg))

        def write_terminator() -> None:
            if _peer_spoke(smtp.sock):
                # The server closed the connection (or answered early, an error) while the
                # message went out: it will not take it; don't count it as handed.
                smtp.close()
                raise smtplib.SMTPServerDisconnected("The server closed the connection in DATA.")
            smtp.send(TERMINATOR)
            state.terminated = True

        try:
            state.hook(write_terminator)
        except BaseException:
            if not state.terminated:
                # Drop the connection mid-message: the server discards what it got. (QUIT now
                # would only be read as more of the message.)
                smtp.close()
            raise
        if not state.terminated:
            smtp.close()
            raise smtplib.SMTPServerDisconnected("The hand-off hook did not end the message.")
        code, reply = smtp.getreply()
        if code != 250 and state.refused is not None:
            try:
                state.refused()
            except Exception:  # the outcome's own UPDATE clears it too; the refusal stands
                logger.exception("could not record an SMTP refusal at once")
        return code, reply


class HandOffSMTP(HandOffMixin, smtplib.SMTP):
    pass


class HandOffSMTP_SSL(HandOffMixin, smtplib.SMTP_SSL):
    pass


class EmailBackend(django_smtp.EmailBackend):
    """Django's SMTP backend on ``HandOffSMTP`` (plain, STARTTLS or implicit TLS)."""

    @property
    def connection_class(self) -> type[smtplib.SMTP]:
        return HandOffSMTP_SSL if self.use_ssl else HandOffSMTP
