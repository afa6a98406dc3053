"""Secret redaction for every log line and error report.

Secrets travel in URLs: portal, review and invitation links carry their token in the path, and
a password reset link carries the user's id and a reset token. Access logs print request lines,
paths, referers and redirect locations; Django logs "Not Found: <path>"; error mail shows the
request, its headers and frame variables. ``SECRET_URL_SHAPES`` below is the one list of those
shapes. It is used by ``RedactTokensFilter`` (Django's console handler, and gunicorn's access
and error logs through ``gunicorn.conf.py``) and by ``RedactingAdminEmailHandler`` (error mail).
A new URL that carries a secret is added here, and nowhere else.
"""

from __future__ import annotations

import logging
import re

from django.utils.functional import Promise
from django.utils.log import AdminEmailHandler

REDACTED = "[redacted]"

# A path separator as it can appear in a logged URL: raw, a backslash, or URL-encoded once or
# twice (a ``next=%2Fp%2F…`` parameter, a raw request line). Requests do reach Django with
# doubled separators (``/p//<token>/``), so runs of separators and ``.`` segments count as one.
_SEP = r"(?:/|\\|%2f|%5c|%252f|%255c)"
_GAP = rf"{_SEP}(?:(?:\.|%2e){{0,2}}{_SEP})*"
# One path segment: anything up to the next separator, query, fragment, quote or space.
_SEGMENT = r"[^/\\\s?#&\"'<>]+"


def _word(word: str) -> str:
    """``word`` with each letter raw or percent-encoded: Django decodes ``/%70/<token>/`` to the
    portal's ``/p/<token>/`` before routing, so the encoded spelling is a live link too."""
    return "".join(f"(?:{re.escape(c)}|%{ord(c):02x})" for c in word)


def _after(*words: str) -> str:
    return "(?:" + "|".join(_word(w) for w in words) + ")"


# Each shape keeps its ``keep`` group (useful for debugging) and replaces the rest.
SECRET_URL_SHAPES: tuple[re.Pattern[str], ...] = tuple(
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        # /p/<token>/… (portal, and /p/<token>/pay/… for payments), /r/<token>/ (reviews),
        # /invite/<token>/ (team invitations), /u/<token>/ (one-click email unsubscribe): the
        # first segment after the prefix is the secret.
        rf"(?P<keep>{_SEP}{_after('p', 'r', 'u', 'invite')}{_GAP}){_SEGMENT}",
        # /signup/confirm/<token>/: the signed signup link (email, company, expiry).
        rf"(?P<keep>{_SEP}{_word('signup')}{_GAP}{_word('confirm')}{_GAP}){_SEGMENT}",
        # /accounts/password-reset/<uidb64>/<token>/ (and …/<uidb64>/set-password/): the user's
        # id and the reset token. ``sent/`` and ``done/`` are the only non-secret pages there.
        rf"(?P<keep>{_SEP}{_word('password-reset')}{_GAP})"
        rf"(?!(?:sent|done)(?:{_SEP}|[\s?#\"']|$)){_SEGMENT}(?:{_GAP}{_SEGMENT})?",
        # /app/billing/quickbooks/callback/?code=…&state=…&realmId=…: Intuit's single-use
        # authorization code and our OAuth state (any ``code``/``state`` query parameter).
        r"(?P<keep>(?:[?&]|%3f|%26)(?:code|state)(?:=|%3d))[^&\s#\"'<>]+",
        # Bare secrets, wherever they stand (a query string, a frame variable in an error
        # report, a decoded path): portal tokens and signed invitation signatures are 43
        # URL-safe characters (secrets.token_urlsafe(32), a base64 HMAC-SHA256); Django's
        # password reset tokens are "<base36 timestamp>-<32 hex digits>".
        r"(?P<keep>)(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])",
        r"(?P<keep>)(?<![A-Za-z0-9_-])[0-9a-z]{1,13}-[0-9a-f]{32}(?![A-Za-z0-9_-])",
    )
)


def _replace(match: re.Match[str]) -> str:
    return match.group("keep") + REDACTED


# The last two shapes (bare secrets) match whole runs of URL-safe characters: a run of exactly 43,
# or a run that is a password reset token. Tried at every position of a long text (a stored Stripe
# event: ~5 KB) they cost two thirds of ``redact``; finding the runs of 34 or more characters first
# and testing each gives the same result (``tests/core/test_redact.py`` checks it), five times faster.
_PATH_SHAPES = SECRET_URL_SHAPES[:-2]
_LONG_RUN = re.compile(r"[A-Za-z0-9_-]{34,}")
_RESET_TOKEN = re.compile(r"[0-9a-z]{1,13}-[0-9a-f]{32}", re.IGNORECASE)


def _bare_secret(match: re.Match[str]) -> str:
    run = match.group()
    return REDACTED if len(run) == 43 or _RESET_TOKEN.fullmatch(run) else run


def redact(text: str) -> str:
    """``text`` with every secret URL shape redacted."""
    for shape in _PATH_SHAPES:
        text = shape.sub(_replace, text)
    return _LONG_RUN.sub(_bare_secret, text)


class RedactTokensFilter(logging.Filter):
    """Redact the message, and the traceback and stack text too: exception messages (a 404's
    "no route for /p/…", a template error) can carry the path."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError, KeyError):
            message = str(record.msg)
        record.msg = redact(message)
        record.args = ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class RedactingAdminEmailHandler(AdminEmailHandler):
    """Django's error mail with secrets redacted from the subject, the text report (request
    path and META, exception values, frame variables) and the HTML report."""

    def send_mail(self, subject: str | Promise, message: str | Promise, *args, **kwargs) -> None:
        if kwargs.get("html_message"):
            kwargs["html_message"] = redact(kwargs["html_message"])
        super().send_mail(redact(str(subject)), redact(str(message)), *args, **kwargs)
