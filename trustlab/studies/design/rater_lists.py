"""One rater's list of items and conditions, planned from the study's state (pure: no database).

``assign`` calls ``plan_rater`` when a rater first asks for work; ``balance`` and ``power`` call it to
plan the raters that fill a study. A list is made so that:

* its model errors are the study's share of its length, rounded down or up (``error_band``), so every
  rater has errors and right items to judge (a per-rater d' and over-reliance), however the raters
  before them arrived, dropped out or came back. Which of the two follows the items still to rate
  (their error share), so the study's last lists need the same share; a list is made shorter rather
  than off-share only where the open items cannot give a full list that share;
* every condition gets items_per_rater / C of them (rounded, the extra ones rotating with the
  rater), and the errors among them differ by at most one between conditions (the extra errors go to
  the conditions with the fewest errors in the study so far, the extra right items to the others): so
  every condition shows both kinds of item whenever the list holds at least C of each;
* within design: each kind of item (errors, right items) is one sequence of (item, condition) pairs
  (``orders.pair_at``) that the raters take in turn, errors with conditions ascending and right items
  descending so that one rater's extra errors and extra right items fall on complementary conditions.
  Each pick is the pair that item has had least often under its condition, next along the sequence
  from where the study stands; never an item with ``raters_per_item`` active ratings. With numbers
  that balance (``balance.problems`` empty) and no one dropping out this is the sequence itself: every
  item gets every condition equally often and every condition the same model errors. Released items
  have had their condition less often, so the next raters take them first;
* between design: a rater sees one condition, the one with the most ratings still to give (condition
  k mod C on ties, which is every rater's when no one drops out), on its items had least often;
* order: conditions follow row k of a Williams design (``orders.williams_rows``), repeated through the
  list; items within a condition come in a seeded order (study seed, rater id); gold items go one
  into each of gold.n equal segments, at a seeded position.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from trustlab.studies.config.study import StudyConfig
from trustlab.studies.design.orders import pair_at, seeded_kinds, williams_rows

# Guards rounding against float noise (a 2.5 must not round as 2.4999...).
EPS = 1e-9


@dataclass(frozen=True)
class PlannedAssignment:
    item_id: int
    condition: str
    is_gold: bool


@dataclass(frozen=True)
class ItemCycles:
    """The study's regular items by kind, each kind in the seeded order its sequence walks."""

    errors: tuple[int, ...]
    rights: tuple[int, ...]

    @property
    def error_share(self) -> float:
        """The share of the regular items that are model errors (0 for no items)."""
        total = len(self.errors) + len(self.rights)
        return len(self.errors) / total if total else 0.0


def item_groups(config: StudyConfig, study_items: Sequence[Any]) -> tuple[ItemCycles, list[int]]:
    """(the regular items as ``ItemCycles``, gold item ids sorted); ``study_items``: StudyItem rows or
    the light rows of ``study_item_facts``. Deterministic in (items, seed)."""
    regular = [(si.item_id, si.model_correct) for si in study_items if not si.is_gold]
    gold = sorted(si.item_id for si in study_items if si.is_gold)
    errors, rights = seeded_kinds(regular, seed=config.seed)
    return ItemCycles(tuple(errors), tuple(rights)), gold


def error_band(n_items: int, share: float) -> tuple[int, int]:
    """The model errors a list of ``n_items`` holds: n_items x share, rounded down or up."""
    exact = n_items * share
    return math.floor(exact + EPS), math.ceil(exact - EPS)


class _State:
    """The study as a new list sees it: active ratings per (item, condition) and per item."""

    def __init__(self, config: StudyConfig, cycles: ItemCycles, counts: dict[tuple[int, str], int]):
        self.config = config
        self.conditions = list(config.conditions)
        self.cycles = cycles
        self.counts = counts
        self.totals: Counter[int] = Counter()
        for (item_id, _), count in counts.items():
            self.totals[item_id] += count

    def count(self, item_id: int, condition: str) -> int:
        return self.counts.get((item_id, condition), 0)

    def open(self, item_id: int) -> bool:
        return self.totals[item_id] < self.config.raters_per_item

    def need(self, items: Sequence[int], conditions: Sequence[str]) -> int:
        """Ratings the open ``items`` still need under ``conditions`` (raters_per_item / C each), in
        units of 1/C rating so that it is a whole number."""
        r, n_cond = self.config.raters_per_item, len(self.conditions)
        return sum(max(0, r - n_cond * self.count(i, c)) for i in items if self.open(i) for c in conditions)

    def given(self, items: Sequence[int], conditions: Sequence[str]) -> int:
        """Active ratings of ``items`` under ``conditions``: where their sequence stands."""
        return sum(self.count(i, c) for i in items for c in conditions)


def _quotas(conditions: Sequence[str], n: int, k: int) -> dict[str, int]:
    """n items split over conditions as equally as possible; the extra ones rotate with the rater."""
    size = len(conditions)
    base, extra = divmod(n, size)
    return {conditions[(k + j) % size]: base + (1 if j < extra else 0) for j in range(size)}


def _list_size(config: StudyConfig, n_errors: int, n_rights: int, share: float) -> tuple[int, int, int]:
    """(list length, fewest and most errors it may hold): items_per_rater, or fewer where the open
    items cannot give a list the study's error share (then the longest list that they can)."""
    for size in range(min(config.items_per_rater, n_errors + n_rights), 0, -1):
        low, high = error_band(size, share)
        low, high = max(low, size - n_rights), min(high, n_errors)
        if low <= high:
            return size, low, high
    return 0, 0, 0


def _list_conditions(state: _State, k: int) -> list[str]:
    """Within: every condition. Between: the condition with the most ratings still to give (from
    condition k mod C on ties)."""
    conditions = state.conditions
    if state.config.design == "within":
        return conditions
    items = state.cycles.errors + state.cycles.rights
    turn = [conditions[(k + j) % len(conditions)] for j in range(len(conditions))]
    return [max(turn, key=lambda c: state.need(items, [c]))]


def _errors_per_condition(
    state: _State, quotas: dict[str, int], target: int, pointer: int
) -> dict[str, int]:
    """``target`` errors over the conditions: one at a time to the condition with the fewest so far in
    this list, then one that keeps a right item too, then the fewest in the study, then the next from
    the sequence's ``pointer``."""
    given = {c: state.given(state.cycles.errors, [c]) for c in quotas}
    n_cond = len(state.conditions)
    errors = dict.fromkeys(quotas, 0)
    for _ in range(target):
        fewest = min(given[c] + errors[c] for c in quotas)
        condition = min(
            (c for c in quotas if errors[c] < quotas[c]),
            key=lambda c: (
                errors[c],
                given[c] + errors[c] > fewest,  # the study's errors per condition stay even
                errors[c] + 1 >= quotas[c],  # keep a right item under the condition where it can
                given[c] + errors[c],
                (state.conditions.index(c) - pointer) % n_cond,
            ),
        )
        errors[condition] += 1
    return errors


def _pick_kind(
    state: _State,
    chosen: dict[int, str],
    items: Sequence[int],
    wanted: dict[str, int],
    *,
    descending: bool,
) -> None:
    """Add ``wanted[c]`` items of one kind under each condition c to ``chosen``, the conditions taking
    turns in the kind's sequence order from where it stands: each pick the open item not yet in the
    list that has had the condition least often, the next along the sequence on ties."""
    if not items or not sum(wanted.values()):
        return
    conditions = state.conditions
    n_items, n_cond = len(items), (len(conditions) if state.config.design == "within" else 1)
    pointer = state.given(items, list(wanted))  # where the kind's sequence stands
    distance: dict[tuple[int, int], int] = {}
    for step in range(2 * n_items * n_cond):
        distance.setdefault(pair_at(pointer + step, n_items, n_cond, descending=descending), step)
    open_ones = [j for j in range(n_items) if state.open(items[j])]
    # A pick only ever excludes the picked item, so each condition's preference order is fixed.
    ranked = {}
    for c in wanted:
        slot = conditions.index(c) if n_cond > 1 else 0
        order = sorted(open_ones, key=lambda j, c=c, s=slot: (state.count(items[j], c), distance[(j, s)]))
        ranked[c] = iter(order)
    left = dict(wanted)
    step = 0
    while sum(left.values()):
        slot = pair_at(pointer + step, n_items, n_cond, descending=descending)[1]
        step += 1
        condition = conditions[slot] if n_cond > 1 else next(iter(wanted))
        if left.get(condition, 0) > 0:
            item_id = next(items[j] for j in ranked[condition] if items[j] not in chosen)
            chosen[item_id] = condition
            left[condition] -= 1


def plan_rater(
    *,
    config: StudyConfig,
    groups: ItemCycles,
    gold_ids: Sequence[int],
    counts: dict[tuple[int, str], int],
    arrival_index: int,
    rater_id: int,
) -> list[PlannedAssignment]:
    """One rater's ordered list (pure: the database state comes in as ``counts``).

    Parameters
    ----------
    groups: the regular items as ``item_groups`` makes them.
    gold_ids: the gold item ids.
    counts: {(item_id, condition): active non-gold assignments so far}.
    arrival_index: k, how many raters arrived before this one.
    """
    cycles, k = groups, arrival_index
    state = _State(config, cycles, counts)
    open_errors = sum(state.open(i) for i in cycles.errors)
    open_rights = sum(state.open(i) for i in cycles.rights)
    size, fewest, most = _list_size(config, open_errors, open_rights, cycles.error_share)
    if size == 0:
        return []
    conditions = _list_conditions(state, k)
    quotas = _quotas(conditions, size, k)
    # The error share of the ratings still to give, so that the rest of the study keeps the share,
    # taken for this list within the band.
    need_errors = state.need(cycles.errors, conditions)
    need_all = need_errors + state.need(cycles.rights, conditions)
    ideal = size * need_errors / need_all if need_all else size * cycles.error_share
    target = min(max(math.floor(ideal + 0.5 + EPS), fewest), most)
    pointer = state.given(cycles.errors, conditions)
    errors = _errors_per_condition(state, quotas, target, pointer)
    chosen: dict[int, str] = {}
    _pick_kind(state, chosen, cycles.errors, errors, descending=False)
    _pick_kind(state, chosen, cycles.rights, {c: quotas[c] - errors[c] for c in quotas}, descending=True)
    order_rng = np.random.default_rng([config.seed, rater_id])
    regular = _williams_order(config, chosen, k, order_rng)
    return _with_gold(config, regular, gold_ids, k, order_rng)


def _williams_order(
    config: StudyConfig, chosen: dict[int, str], k: int, rng: np.random.Generator
) -> list[PlannedAssignment]:
    """The chosen items in the order of Williams row k (cycled); items of a condition in seeded order."""
    conditions = list(config.conditions)
    queues: dict[str, list[int]] = {c: [] for c in conditions}
    for item_id, condition in chosen.items():
        queues[condition].append(item_id)
    for condition, ids in queues.items():
        queues[condition] = [ids[j] for j in rng.permutation(len(ids))]
    if config.design == "between":
        return [PlannedAssignment(i, c, False) for c in conditions for i in queues[c]]
    rows = williams_rows(len(conditions))
    row = [conditions[j] for j in rows[k % len(rows)]]
    out: list[PlannedAssignment] = []
    step = 0
    while len(out) < len(chosen):
        condition = row[step % len(row)]
        step += 1
        if queues[condition]:
            out.append(PlannedAssignment(queues[condition].pop(0), condition, False))
    return out


def _with_gold(
    config: StudyConfig,
    regular: list[PlannedAssignment],
    gold_ids: Sequence[int],
    k: int,
    rng: np.random.Generator,
) -> list[PlannedAssignment]:
    """Gold items inserted one into each of len(gold_ids) equal segments of the list."""
    conditions = list(config.conditions)
    n_cond = len(conditions)
    gold = [gold_ids[j] for j in rng.permutation(len(gold_ids))]
    total = len(regular) + len(gold)
    gold_positions: dict[int, PlannedAssignment] = {}
    for s, item_id in enumerate(gold):
        lo, hi = s * total // len(gold), (s + 1) * total // len(gold)
        if config.design == "between":  # the rater's one condition
            condition = regular[0].condition if regular else conditions[k % n_cond]
        else:
            condition = conditions[(k + s) % n_cond]
        gold_positions[int(rng.integers(lo, hi))] = PlannedAssignment(item_id, condition, True)
    out: list[PlannedAssignment] = []
    regular_iter = iter(regular)
    for position in range(total):
        out.append(gold_positions[position] if position in gold_positions else next(regular_iter))
    return out
