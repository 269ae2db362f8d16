"""Structured log lines (JSON, one per event) for `mailgate serve`, via structlog.

Lines are pure ASCII JSON: every control, C1 or bidi character of a client's user name (or
any other value) is a `\\u` escape, so no log line can be split, forged or drive a terminal.
"""

from __future__ import annotations

import logging
import sys

import structlog


def setup(level: str = "info") -> None:
    shared = [structlog.stdlib.add_log_level, structlog.processors.TimeStamper(fmt="iso")]
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder()],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info,
                    structlog.processors.JSONRenderer(ensure_ascii=True)],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("uvicorn.error", "uvicorn.access", "alembic"):
        logging.getLogger(noisy).setLevel("WARNING")
