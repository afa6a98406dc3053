"""Gunicorn settings, read automatically from the working directory (the image's WORKDIR).

Secrets travel in request paths (portal, invitation and password reset links), so the access log
and the error log get the same filter as Django's handlers: it formats each line (request line,
path, query, referer, Location of redirects…) and redacts every shape listed in
``crewcommand.lib.logging.SECRET_URL_SHAPES``. Command-line flags (bind, workers, log format)
still apply on top of this file.
"""

from __future__ import annotations

from gunicorn.glogging import Logger

from crewcommand.lib.logging import RedactTokensFilter


class RedactingLogger(Logger):
    def setup(self, cfg) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            if not any(isinstance(f, RedactTokensFilter) for f in log.filters):
                log.addFilter(RedactTokensFilter())


logger_class = RedactingLogger
