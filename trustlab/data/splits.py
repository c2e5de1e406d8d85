"""Seeded, stratified split assignment for items that arrive without a split."""

from __future__ import annotations

import math
import re
import zlib
from collections.abc import Mapping, Sequence

import numpy as np

DEFAULT_SPLIT = {"train": 0.7, "val": 0.15, "test": 0.15}
DEFAULT_SPLIT_TEXT = "train=0.7,val=0.15,test=0.15"
# Fractions may be written with rounding (e.g. 0.33,0.33,0.34 or thirds to 2 decimals).
SUM_TOLERANCE = 0.011
_SPLIT_NAME = re.compile(r"^[a-z0-9_]{1,20}$")


class SplitSpecError(ValueError):
    """A --split value that cannot be parsed."""


def parse_split(text: str) -> dict[str, float]:
    """``"train=0.7,val=0.15,test=0.15"`` -> {"train": 0.7, ...}, normalised to sum to exactly 1."""
    fractions: dict[str, float] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        name = name.strip().lower()
        if not sep or not _SPLIT_NAME.match(name):
            raise SplitSpecError(f"--split part {part!r} is not NAME=FRACTION "
                                 f"(e.g. {DEFAULT_SPLIT_TEXT})")
        try:
            fraction = float(value)
        except ValueError as exc:
            raise SplitSpecError(f"--split fraction {value!r} for {name} is not a number") from exc
        if not 0.0 <= fraction <= 1.0 or name in fractions:
            raise SplitSpecError(f"--split {name}={value}: each split once, with a fraction in 0..1")
        fractions[name] = fraction
    total = sum(fractions.values())
    if not fractions or abs(total - 1.0) > SUM_TOLERANCE:
        raise SplitSpecError(f"--split fractions {text!r} sum to {total:g}; they must sum to 1 "
                             f"(e.g. {DEFAULT_SPLIT_TEXT})")
    return {name: fraction / total for name, fraction in fractions.items()}


def split_counts(n: int, fractions: Mapping[str, float],
                 rng: np.random.Generator | None = None) -> dict[str, int]:
    """Integer counts summing to ``n`` by largest remainder.

    Ties (e.g. val and test at 0.15 each) go to the earlier split, or to a random one when ``rng``
    is given, so that over many classes no split is systematically short.
    """
    names = list(fractions)
    exact = np.array([n * fractions[name] for name in names])
    counts = np.floor(exact).astype(int)
    short = n - int(counts.sum())
    tie_break = rng.random(len(names)) if rng is not None else np.arange(len(names))
    order = sorted(range(len(names)), key=lambda i: (-round(exact[i] - counts[i], 9), tie_break[i]))
    for i in order[:short]:
        counts[i] += 1
    return {name: int(count) for name, count in zip(names, counts, strict=True)}


def stratified_splits(
    keys_by_class: Mapping[str, Sequence[str]], fractions: Mapping[str, float], *, seed: int = 0
) -> dict[str, str]:
    """Assign each key a split, per class in proportion to ``fractions``.

    keys_by_class: {class: keys}; keys are sorted first, so the result depends only on the key set,
    the fractions and the seed (not on file order). Each class is shuffled by its own generator
    seeded with (seed, crc32(class)), so adding a class does not change another class's splits.
    Returns {key: split}.
    """
    assigned: dict[str, str] = {}
    for label, keys in keys_by_class.items():
        ordered = sorted(keys)
        rng = np.random.default_rng([seed, zlib.crc32(label.encode("utf-8"))])
        shuffled = [ordered[i] for i in rng.permutation(len(ordered))]
        start = 0
        for split, count in split_counts(len(shuffled), fractions, rng).items():
            for key in shuffled[start:start + count]:
                assigned[key] = split
            start += count
    return assigned


DEFAULT_VAL_FRACTION = 0.1
MAX_VAL_FRACTION = 0.5


class TooFewForValidation(ValueError):
    """A class has too few train items to give a validation part (the message names class and count)."""


def min_items_for_val(fraction: float) -> int:
    """Fewest items a class needs so that ``fraction`` of it rounds to >= 1 item and >= 1 stays in train."""
    return max(2, math.ceil(0.5 / fraction - 1e-9))


def carve_validation(
    keys_by_class: Mapping[str, Sequence[str]], fraction: float = DEFAULT_VAL_FRACTION, *, seed: int = 0
) -> set[str]:
    """The keys to move from train to a stratified validation part: round(fraction * n) per class.

    Deterministic like ``stratified_splits`` (keys sorted, one generator per class seeded with
    (seed, crc32(class))). Raises ValueError for a fraction outside (0, 0.5] and TooFewForValidation
    naming the first class whose count is too small for one validation item and one train item.
    """
    if not 0.0 < fraction <= MAX_VAL_FRACTION:
        raise ValueError(f"--val-fraction must be in (0, {MAX_VAL_FRACTION:g}], got {fraction:g}")
    needed = min_items_for_val(fraction)
    for label in sorted(keys_by_class):
        count = len(keys_by_class[label])
        if count < needed:
            raise TooFewForValidation(
                f"class {label!r} has only {count} train item(s): a {fraction:g} validation part needs at "
                f"least {needed} per class; add images of {label!r}, raise --val-fraction, or ingest a "
                "val split")
    carved: set[str] = set()
    for label, keys in keys_by_class.items():
        ordered = sorted(keys)
        rng = np.random.default_rng([seed, zlib.crc32(label.encode("utf-8"))])
        n_val = int(math.floor(len(ordered) * fraction + 0.5 + 1e-9))
        carved.update(ordered[i] for i in rng.permutation(len(ordered))[:n_val])
    return carved
