"""A study's conditions: ``none``, one explanation method, or methods shown together joined by ``+``
(``gradcam+twin``). A method is one of the catalogue's or one imported with `trustlab explanations
import` (whose names are known only to the database: ``load_study_config`` is told them).

Torch-free, like the catalogue, so validating a study never imports torch.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from trustlab.explanation_methods import METHOD_NAMES
from trustlab.studies.config.base import QUOTE, invalid_config
from trustlab.wording import suggest

# The explanation methods a condition may name: the catalogue's (torch-free, so validating a study
# never imports torch).
KNOWN_METHODS: tuple[str, ...] = METHOD_NAMES
# The control condition: the prediction without any explanation.
NO_EXPLANATION = "none"
# Joins methods shown together in one condition, e.g. "gradcam+twin".
COMBO_SEPARATOR = "+"


def _split(condition: str) -> list[str]:
    # A method name may contain the separator ("gradcam++"): re-join the empty parts it splits into.
    merged: list[str] = []
    for part in condition.split(COMBO_SEPARATOR):
        if part == "" and merged and any(m.startswith(merged[-1] + COMBO_SEPARATOR) for m in KNOWN_METHODS):
            merged[-1] += COMBO_SEPARATOR
        else:
            merged.append(part)
    return merged


def condition_methods(condition: str) -> list[str]:
    """The methods shown in a condition: [] for none, ["gradcam", "twin"] for "gradcam+twin"."""
    if condition == NO_EXPLANATION:
        return []
    return _split(condition)


def check_condition(condition: str, *, imported: Collection[str] = ()) -> None:
    """Raise ValueError naming the fix when ``condition`` is not none, a method or a '+' combo.

    imported: names of imported methods (`trustlab explanations import`) that are valid too."""
    if condition == NO_EXPLANATION:
        return
    merged = _split(condition)
    known = (*KNOWN_METHODS, *imported)
    for part in merged:
        if part == NO_EXPLANATION:
            raise ValueError(f"condition {condition!r} combines 'none' with methods: use 'none' alone")
        if part not in known:
            raise ValueError(
                f"condition {condition!r}: unknown method {part!r}; {suggest(part, known, quote=QUOTE)}"
                f"use 'none', one of {', '.join(known)}, or methods joined with '+'"
            )
    if len(set(merged)) != len(merged):
        raise ValueError(f"condition {condition!r} names a method twice: name each method once")


def imported_in(data: Mapping[str, Any], imported: Collection[str], source: str) -> list[str]:
    """The imported methods the config's conditions name, plus those it lists (each must exist)."""
    listed = data.get("imported_methods") or []
    if not isinstance(listed, list):
        raise invalid_config(source, ["imported_methods: give a list of names"])
    unknown = [name for name in listed if name not in imported]
    if unknown:
        raise invalid_config(source, [
            f"imported_methods: {', '.join(map(repr, unknown))} was never imported (imported methods: "
            f"{', '.join(imported) or 'none'}); import it with `trustlab explanations import` or remove it"
        ])
    conditions = data.get("conditions") or []
    named = {part for c in conditions if isinstance(c, str) for part in condition_methods(c)}
    return sorted(set(listed) | (named & set(imported)))
