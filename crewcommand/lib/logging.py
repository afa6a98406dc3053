"""Log filters.

Secret link tokens must never reach a log line: access logs print request paths, and portal,
review and invitation paths carry the token. The filter formats each record once and rewrites
any such path segment, whatever shape the record's arguments had.
"""

from __future__ import annotations

import logging
import re

# /p/<token>/, /r/<token>/ and /invite/<token>/ carry secrets; keep the prefix for debugging.
_SECRET_PATH = re.compile(r"(/(?:p|r|invite)/)[^/\s?\"'#]+")


def redact(text: str) -> str:
    return _SECRET_PATH.sub(r"\1[redacted]", text)


class RedactTokensFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError, KeyError):
            message = str(record.msg)
        record.msg = redact(message)
        record.args = ()
        return True
