"""Gunicorn settings, read automatically from the working directory (the image's WORKDIR).

Secret link tokens travel in request paths (/p/<token>/, /r/<token>/, /invite/<token>/), so the
access log and the error log redact them: every access-log atom (request line, path, referer,
headers, Location of redirects…) goes through ``crewcommand.lib.logging.redact``, and the error
log gets the same filter as Django's handlers. Command-line flags (bind, workers, log format)
still apply on top of this file.
"""

from __future__ import annotations

from gunicorn.glogging import Logger

from crewcommand.lib.logging import RedactTokensFilter, redact


class RedactingLogger(Logger):
    def setup(self, cfg) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            if not any(isinstance(f, RedactTokensFilter) for f in log.filters):
                log.addFilter(RedactTokensFilter())

    def atoms(self, resp, req, environ, request_time) -> dict:
        atoms = super().atoms(resp, req, environ, request_time)
        return {
            key: redact(value) if isinstance(value, str) else value for key, value in atoms.items()
        }


logger_class = RedactingLogger
