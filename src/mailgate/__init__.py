"""mailgate: a self-hosted mail service whose every client door is governed by policy."""

__version__ = "0.1.0"
