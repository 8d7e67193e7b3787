"""The size limits of the architecture rules: no module over 450 lines, no function over 120, in src/ and scripts/.

A module past them is where the next feature would land in a file nobody can hold in mind; the limit is checked
here so that growth is noticed when it happens, not in a later clean-up."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 120


def _sources() -> list[Path]:
    files = sorted(p for folder in ("src", "scripts") for p in (ROOT / folder).rglob("*.py"))
    assert len(files) > 50  # the walk found the package, not an empty folder
    return files


def _function_lengths(path: Path) -> list[tuple[str, int]]:
    """(name, lines from ``def`` to its last line, decorators excluded) of every function and method."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [(node.name, node.end_lineno - node.lineno + 1) for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)]


def test_no_module_over_450_lines() -> None:
    over = {}
    for path in _sources():
        name = path.relative_to(ROOT).as_posix()
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_MODULE_LINES:
            over[name] = lines
    assert not over, f"modules over {MAX_MODULE_LINES} lines: {over}"


def test_no_function_over_120_lines() -> None:
    over = [f"{path.relative_to(ROOT).as_posix()}:{name} ({n} lines)"
            for path in _sources() for name, n in _function_lengths(path) if n > MAX_FUNCTION_LINES]
    assert not over, f"functions over {MAX_FUNCTION_LINES} lines: {over}"


def test_the_counts_see_a_long_function(tmp_path: Path) -> None:
    """The measure itself: a 121-line function is counted as 121 lines, nested ones too."""
    body = "\n".join(f"    x{i} = {i}" for i in range(119))
    f = tmp_path / "long.py"
    f.write_text(f"class A:\n    def long(self):\n{body.replace('    ', '        ')}\n        return 0\n"
                 f"def short():\n    def inner():\n        pass\n")
    assert dict(_function_lengths(f)) == {"long": 121, "short": 3, "inner": 2}
