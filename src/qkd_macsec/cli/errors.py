"""CLI error type and exit codes shared by every command group."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_UNREACHABLE = 3
EXIT_LEASE_HELD = 4  # another controller holds the journal
EXIT_INTERRUPTED = 130


class CliError(Exception):
    """An operator-facing error: printed as one line, no traceback."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code
