"""Pure building blocks of a balanced design: the sequences raters take items from, and Williams
condition orders.

* ``seeded_kinds``: the study's regular items as its model errors and its right items, each in a
  seeded order.
* ``pair_at``: the (item, condition) pairs of one kind of item (model errors, or right items) in the
  order raters take them: a run of consecutive pairs names distinct items and consecutive conditions,
  and the sequence names every pair equally often.
* ``williams_rows``: the rows of a Williams design (a balanced Latin square): over a full set of rows,
  every condition is at every position equally often and follows every other condition equally often
  (first-order carry-over balance).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def williams_rows(n: int) -> list[list[int]]:
    """Condition orders (indices 0..n-1) of a Williams design: n rows for even n, 2n for odd n.

    Row r is the base sequence 0, 1, n-1, 2, n-2, ... shifted by r (mod n); for odd n the reversed rows
    follow, since no single n x n square balances carry-over when n is odd.
    """
    if n < 1:
        raise ValueError(f"a Williams design needs at least one condition, got {n}")
    base, low, high = [0], 1, n - 1
    while len(base) < n:
        if len(base) % 2:
            base.append(low)
            low += 1
        else:
            base.append(high)
            high -= 1
    rows = [[(b + r) % n for b in base] for r in range(n)]
    if n % 2 and n > 1:
        rows += [row[::-1] for row in rows]
    return rows


def pair_at(t: int, n_items: int, n_conditions: int, *, descending: bool = False) -> tuple[int, int]:
    """The t-th (item index, condition index) pair of one kind's sequence (t = 0, 1, 2, ...).

    Item (t + t // L) mod n_items under condition t mod C (``descending``: (-t - 1) mod C), with
    L = lcm(n_items, C): items and conditions both step by one, except that the item steps by two at
    each multiple of L. So any run of fewer than n_items consecutive pairs names distinct items and
    holds every condition floor or ceil of (its length / C) times, and the pairs from 0 up to any
    multiple of n_items x C name every (item, condition) pair equally often (the step by two reaches
    the pairs that one block of L misses when n_items and C share a factor).
    """
    block = math.lcm(n_items, n_conditions)
    condition = (-t - 1) % n_conditions if descending else t % n_conditions
    return (t + t // block) % n_items, condition


def seeded_kinds(items: Sequence[tuple[int, bool | None]], *, seed: int) -> tuple[list[int], list[int]]:
    """(the model errors, the right items) of ``items`` ((item_id, model_correct) pairs; None counts
    as right), each in a seeded order. Deterministic in (items, seed)."""
    rng = np.random.default_rng([seed, 0])
    ordered = sorted(items, key=lambda pair: pair[0])
    errors = [i for i, correct in ordered if correct is False]
    rights = [i for i, correct in ordered if correct is not False]
    errors = [errors[j] for j in rng.permutation(len(errors))]
    return errors, [rights[j] for j in rng.permutation(len(rights))]

