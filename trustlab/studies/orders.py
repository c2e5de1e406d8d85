"""Pure building blocks of a balanced design: stratified item groups and Williams condition orders.

* ``stratified_groups``: the study's regular items split into groups whose model-error counts differ by
  at most one, each group in a cyclic order that spreads its errors evenly, so that any run of q
  consecutive items of a group holds q x (group error share) errors, rounded down or up.
* ``williams_rows``: the rows of a Williams design (a balanced Latin square): over a full set of rows,
  every condition is at every position equally often and follows every other condition equally often
  (first-order carry-over balance).
"""

from __future__ import annotations

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


def spread_cycle(errors: Sequence[int], rights: Sequence[int]) -> list[int]:
    """errors and rights merged into one list with the errors spread evenly (Bresenham's rule).

    As a cycle, any two runs of equal length hold error counts that differ by at most one.
    """
    n, e = len(errors) + len(rights), len(errors)
    out, err_iter, right_iter = [], iter(errors), iter(rights)
    for p in range(n):
        out.append(next(err_iter) if (p + 1) * e // n > p * e // n else next(right_iter))
    return out


def stratified_groups(
    items: Sequence[tuple[int, bool | None]], n_groups: int, *, seed: int
) -> list[list[int]]:
    """The regular items as ``n_groups`` groups stratified by model correctness.

    items: (item_id, model_correct) pairs (None counts as right). Errors, then right items, each in a
    seeded order, are dealt round robin onto the groups (group sizes and error counts differ by at most
    one); each group is then ordered by ``spread_cycle``. Deterministic in (items, n_groups, seed).
    """
    rng = np.random.default_rng([seed, 0])
    ordered = sorted(items, key=lambda pair: pair[0])
    errors = [i for i, correct in ordered if correct is False]
    rights = [i for i, correct in ordered if correct is not False]
    errors = [errors[j] for j in rng.permutation(len(errors))]
    rights = [rights[j] for j in rng.permutation(len(rights))]
    dealt: list[tuple[list[int], list[int]]] = [([], []) for _ in range(n_groups)]
    for j, item_id in enumerate(errors):
        dealt[j % n_groups][0].append(item_id)
    for j, item_id in enumerate(rights, start=len(errors)):
        dealt[j % n_groups][1].append(item_id)
    return [spread_cycle(errs, oks) for errs, oks in dealt]
