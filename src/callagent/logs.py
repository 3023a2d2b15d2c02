"""Logging set-up and the filter that keeps personal data out of access logs."""

from __future__ import annotations

import logging
import sys


class DropQueryStringFilter(logging.Filter):
    """Remove query strings from uvicorn's access log lines.

    ``GET /api/v1/calls?phone=79161234567`` would put an applicant's number in the
    log at INFO; the path alone says what was asked.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            path, _, query = args[2].partition("?")
            if query:
                record.args = (*args[:2], path + "?…", *args[3:])
        return True


def install_access_log_filter() -> None:
    """Attach :class:`DropQueryStringFilter` to uvicorn's access logger (once)."""
    logger = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, DropQueryStringFilter) for f in logger.filters):
        logger.addFilter(DropQueryStringFilter())


def setup_logging(level: str) -> None:
    """Log to stderr at ``level``, access lines without query strings."""
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    install_access_log_filter()
    # httpx logs every request URL at INFO; webhook URLs may carry a receiver's key.
    logging.getLogger("httpx").setLevel(logging.WARNING)
