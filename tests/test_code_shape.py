"""The code's shape rules: no function over 60 lines and no signature over 8 parameters.

Generated Alembic migrations are exempt. Counting: from the ``def`` line to the function's last line
(docstring included); parameters are every named one except ``self`` and ``cls``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = [ROOT / "trustlab", ROOT / "benchmarks", ROOT / "scripts"]
MAX_LINES = 60
MAX_PARAMS = 8


def _functions():
    for package in PACKAGES:
        for path in sorted(package.rglob("*.py")):
            if "migrations" in path.parts:
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    yield path.relative_to(ROOT), node


def _params(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    args = node.args
    named = [*args.posonlyargs, *args.args, *args.kwonlyargs]
    return sum(1 for a in named if a.arg not in {"self", "cls"})


def long_functions() -> list[str]:
    return [
        f"{path}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for path, node in _functions()
        if node.end_lineno - node.lineno + 1 > MAX_LINES
    ]


def wide_signatures() -> list[str]:
    return [
        f"{path}:{node.lineno} {node.name} ({_params(node)} parameters)"
        for path, node in _functions()
        if _params(node) > MAX_PARAMS
    ]


def test_no_function_is_longer_than_sixty_lines():
    assert long_functions() == []


def test_no_signature_has_more_than_eight_parameters():
    assert wide_signatures() == []


@pytest.mark.parametrize("lines,expected", [(MAX_LINES, 0), (MAX_LINES + 1, 1)])
def test_the_length_rule_counts_from_def_to_last_line(tmp_path, monkeypatch, lines, expected):
    body = "\n".join(f"    x{i} = {i}" for i in range(lines - 1))
    (tmp_path / "mod.py").write_text(f"def f():\n{body}\n")
    monkeypatch.setitem(globals(), "PACKAGES", [tmp_path])
    monkeypatch.setitem(globals(), "ROOT", tmp_path)
    assert len(long_functions()) == expected
