"""Errors the directory raises; the CLI prints them as one line and exits non-zero."""


class DirectoryError(Exception):
    """Base: a refused or invalid request; nothing was changed."""


class NotFound(DirectoryError):
    pass


class Conflict(DirectoryError):
    pass


class InvalidTransition(DirectoryError):
    pass


class NotAllowed(DirectoryError):
    """The actor's role does not permit this change; the message says who may and how."""


class RecordedRefusal(NotAllowed):
    """Refused, and the attempt itself is in the audit log: the change's transaction commits
    that row (it wrote nothing else) before the refusal is raised."""
