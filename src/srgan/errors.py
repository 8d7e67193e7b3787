"""The one exception type users see: the CLI prints it as a single line and exits non-zero."""

from __future__ import annotations

from pathlib import Path


class SrganError(Exception):
    """A problem with something the user gave (a file, a flag); the message names it and says what is wrong."""

    def __init__(self, problem: str, path: str | Path | None = None) -> None:
        self.path = None if path is None else str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path else problem)
