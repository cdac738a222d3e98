"""Domain exceptions raised by the videx library.

Each message is one line that says what went wrong, where, and how to fix it. The CLI turns
these into ``Error: ...`` lines and a non-zero exit code; no traceback reaches a user.
"""

from __future__ import annotations


class VidexError(Exception):
    """Base class of every error videx raises on purpose."""


class InputError(VidexError):
    """A value in an input file or option is invalid (message names file, row and column)."""

    MAX_CHARS = 400     # a reason quoting a huge cell is shortened in the middle

    def __init__(self, message: str, *, file: str | None = None, row: int | None = None,
                 column: str | None = None):
        if len(message) > self.MAX_CHARS:
            half = self.MAX_CHARS // 2
            message = f"{message[:half]} [... {len(message) - 2 * half} characters ...] " \
                      f"{message[-half:]}"
        self.file, self.row, self.column, self.reason = file, row, column, message
        where = []
        if file:
            where.append(str(file))
        if row is not None:
            where.append(f"row {row}")
        if column:
            where.append(f"column {column}")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


class OptionError(VidexError):
    """A call's argument is out of range or conflicts with another (``option`` names it).

    The command line reports these as usage errors (exit 2) and names the flag itself, so the
    message speaks of the value, not of a flag.
    """

    def __init__(self, message: str, option: str | None = None):
        self.option = option
        super().__init__(message)


class TimestampError(VidexError):
    """A time could not be read, or is ambiguous / non-existent in its zone."""


class ProbeError(VidexError):
    """ffprobe could not read a file as video (carries ffprobe's own stderr line)."""


class ToolMissing(VidexError):
    """A required external program (ffmpeg, ffprobe) is not installed."""


class NotFound(VidexError):
    """A camera, clip or incident id is not in the catalog."""


class CatalogError(VidexError):
    """The catalog cannot be opened or changed: missing, not a catalog, newer, read-only."""


class AuditKeyError(VidexError):
    """The audit chain is keyed and the key is missing or wrong."""


class LinkKeyError(VidexError):
    """The upload-link secret (a key file outside the catalog) is missing, unreadable or not
    this catalog's."""


class MailError(VidexError):
    """No SMTP server is configured, or it refused or could not be reached (the message never
    holds a password)."""


class IntakeError(VidexError):
    """A received file could not be taken in for a reason on the server's side (a full disk,
    no evidence store); nothing was catalogued."""

class SigningKeyError(VidexError):
    """A package signing key or public key is missing, unreadable or not the catalog's."""


class PackageError(VidexError):
    """A folder is not an evidence package that can be checked (no SHA256SUMS, unreadable)."""
