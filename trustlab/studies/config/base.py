"""What every part of a study config shares: the strict base model, the one error type, the rule for an
item list given as ``ids`` and/or ``n``, and the wording of a validation error (the field at fault and
the fix, with a "did you mean" hint for a misspelt field).

A study YAML is written by hand, so a typo must fail loudly with its fix rather than be ignored: every
model is strict (unknown fields rejected) and every error names its field.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from trustlab.wording import suggest

log = logging.getLogger(__name__)

# How messages quote a value the researcher wrote (a measure, a method): as Python prints a string.
# Field names are quoted as YAML code instead (suggest's default backticks).
QUOTE = "'"


class StudyConfigError(ValueError):
    """The study config is invalid; the message names each field at fault and the fix."""


class StrictModel(BaseModel):
    """A part of a study config: unknown fields are errors, and a validated config never changes."""

    model_config = ConfigDict(extra="forbid", strict=False, frozen=True)


def check_item_ids(field: str, ids: list[Any], n: int | None) -> None:
    """Raise ValueError naming the fix when an item list's ``ids`` is empty, repeats an id, or
    disagrees with the ``n`` the researcher also wrote (None: n was not written)."""
    if not ids:
        raise ValueError(f"{field}.ids is empty: list at least one item id, or write `ids: null`")
    if len(set(ids)) != len(ids):
        raise ValueError(f"{field}.ids lists an item twice: list each item id once")
    if n is not None and n != len(ids):
        raise ValueError(f"{field}.n is {n} but {field}.ids lists {len(ids)} items: drop n or match it")


def describe_error(
    error: Mapping[str, Any],
    model: type[BaseModel],
    parts: Mapping[str, type[BaseModel]],
    notes: Mapping[str, str] | None = None,
) -> str:
    """One line for one pydantic error of ``model``: the dotted field and what to write instead.

    parts: the model of each top-level field that is itself a model (for an unknown nested field's
    known names); notes: a sentence appended to an invalid choice in that top-level field."""
    loc = [str(part) for part in error.get("loc", ())]
    field = ".".join(loc) or "(config)"
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        parent = parts.get(loc[0], model) if len(loc) > 1 else model
        known = list(parent.model_fields)
        hint = suggest(loc[-1], known)
        return f"{field}: unknown field; {hint}remove it (known fields: {', '.join(known)})"
    if kind == "missing":
        return f"{field}: required field is missing; add `{loc[-1]}: ...` to the config"
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    if kind == "literal_error" and loc and loc[0] in (notes or {}):
        message += (notes or {})[loc[0]]
    return f"{field}: {message}"


def invalid_config(source: str, lines: Sequence[str]) -> StudyConfigError:
    """The error for a config with these problems, one indented line each."""
    return StudyConfigError(f"invalid study config ({source}):\n  " + "\n  ".join(lines))


# Old keys already reported in this process: a server loads a study's stored config on many requests,
# and one line in its log says all there is to say.
_WARNED: set[str] = set()


def renamed_key(data: Any, *, old: str, new: str) -> Any:
    """``data`` with a YAML key's old name ``old`` read as its new name ``new``, logging a
    deprecation message (once per process) that names the new key; both given is an error."""
    if not isinstance(data, Mapping) or old not in data:
        return data
    if new in data:
        raise ValueError(
            f"`{old}` and `{new}` are both set: `{old}` is the old name of `{new}`; keep `{new}` only"
        )
    if old not in _WARNED:
        _WARNED.add(old)
        log.warning("study config: `%s` is deprecated, write `%s` instead (same meaning)", old, new)
    out = {key: value for key, value in data.items() if key != old}
    out[new] = data[old]
    return out
