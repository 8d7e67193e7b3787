"""The one exception type users see: the CLI prints it as a single line and exits non-zero."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path


class SrganError(Exception):
    """A problem with something the user gave (a file, a flag); the message names it and says what is wrong."""

    def __init__(self, problem: str, path: str | Path | None = None) -> None:
        self.path = None if path is None else str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path else problem)


def check_number(name: str, value: object, low: float = 0, *, whole: bool = True, strict: bool = False,
                 choices: Sequence[int] = (), high: float | None = None, path: str | Path | None = None) -> None:
    """Refuse ``value`` unless it is a whole (or finite) number ``>= low`` (``> low`` if ``strict``; at most ``high``
    if given) or one of ``choices``: every number a user gives (flags, TOML, weight metadata) is checked here, so all
    refusals read "NAME must be RULE, got VALUE". Strings and booleans are refused too: a file may hold "4" where 4
    belongs."""
    kind = "a whole number" if whole else "a number"
    rule = f"one of {', '.join(map(str, choices))}" if choices else f"{kind} {'>' if strict else '>='} {low:g}"
    if high is not None and not choices:
        rule = f"{kind} from {low:g} to {high:g}" if not strict else f"{rule} and <= {high:g}"
    if isinstance(value, bool) or not isinstance(value, int if whole else int | float):
        ok = False
    elif choices:
        ok = value in choices
    else:
        ok = math.isfinite(value) and (value > low if strict else value >= low) and (high is None or value <= high)
    if not ok:
        raise SrganError(f"{name} must be {rule}, got {value!r}", path)
