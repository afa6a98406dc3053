"""Log filters.

Secret link tokens must never reach a log line: access logs print request paths, and portal,
review and invitation paths carry the token. The filter formats each record once and rewrites
any such path segment, whatever shape the record's arguments had.
"""

from __future__ import annotations

import logging
import re

from django.utils.functional import Promise
from django.utils.log import AdminEmailHandler

# /p/<token>/, /r/<token>/, /invite/<token>/ and /signup/confirm/<token>/ carry secrets; keep
# the prefix for debugging.
_SECRET_PATH = re.compile(r"(/(?:p|r|invite|signup/confirm)/)[^/\s?\"'#]+")


def redact(text: str) -> str:
    return _SECRET_PATH.sub(r"\1[redacted]", text)


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


# Portal tokens are 43 URL-safe characters (secrets.token_urlsafe(32)). An error report also
# shows frame variables and request data, where a token can stand without its /p/ prefix.
_BARE_TOKEN = re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])")


def redact_report(text: str) -> str:
    return _BARE_TOKEN.sub("[redacted]", redact(text))


class RedactingAdminEmailHandler(AdminEmailHandler):
    """Django's error mail with secret-link tokens redacted from the subject, the text report
    (request path and META, exception values, frame variables) and the HTML report."""

    def send_mail(self, subject: str | Promise, message: str | Promise, *args, **kwargs) -> None:
        if kwargs.get("html_message"):
            kwargs["html_message"] = redact_report(kwargs["html_message"])
        super().send_mail(redact_report(str(subject)), redact_report(str(message)), *args, **kwargs)
