"""Domain exceptions raised by the videx library.

Each message is one line that says what went wrong, where, and how to fix it. The CLI turns
these into ``Error: ...`` lines and a non-zero exit code; no traceback reaches a user.
"""

from __future__ import annotations


class VidexError(Exception):
    """Base class of every error videx raises on purpose."""


class InputError(VidexError):
    """A value in an input file or option is invalid (message names file, row and column)."""

    def __init__(self, message: str, *, file: str | None = None, row: int | None = None,
                 column: str | None = None):
        self.file, self.row, self.column, self.reason = file, row, column, message
        where = []
        if file:
            where.append(str(file))
        if row is not None:
            where.append(f"row {row}")
        if column:
            where.append(f"column {column}")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


class TimestampError(VidexError):
    """A time could not be read, or is ambiguous / non-existent in its zone."""


class ProbeError(VidexError):
    """ffprobe could not read a file as video (carries ffprobe's own stderr line)."""


class ToolMissing(VidexError):
    """A required external program (ffmpeg, ffprobe) is not installed."""


class NotFound(VidexError):
    """A camera, clip or incident id is not in the catalog."""


class ConflictError(VidexError):
    """A catalogued file changed on disk (its SHA-256 no longer matches)."""


class AuditError(VidexError):
    """The audit log's hash chain is broken."""
