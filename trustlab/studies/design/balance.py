"""Whether a study's numbers give a balanced design, what the design realises, and the nearest numbers
that balance.

Balanced (within design) means: every rater sees every condition equally often (C divides
items_per_rater), every item gets every condition equally often (C divides raters_per_item and
items.n), the ratings make a whole number K = items.n x raters_per_item / items_per_rater of full lists,
and K completes the Williams orders (a multiple of C for even C, 2C for odd C), so each condition is at
each position equally often. Between design: C divides raters_per_item and K. With those numbers the
assignment (``rater_lists.plan_rater``) gives every condition the same share of model errors overall
and every rater the study's share (to one item); ``realised_balance`` checks it by planning the raters
that fill the study without a database, and checks that ``recruitment.max_participants`` lets that
many raters take part.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

from trustlab.db.schema import StudyItem
from trustlab.studies.config.study import StudyConfig
from trustlab.studies.design.orders import williams_rows
from trustlab.studies.design.rater_lists import error_band, item_groups, plan_rater

# How far from the asked numbers to look for balanced ones (a factor of the asked value).
NEAREST_SEARCH_FACTOR = 4
# Extra arrivals planned beyond ceil(K), to see raters that a leftover would give a short list.
EXTRA_ARRIVALS = 10


def full_lists(n: int, raters_per_item: int, per_rater: int) -> float:
    """K: how many lists of ``per_rater`` items the study's ratings (items.n x raters_per_item) make."""
    return n * raters_per_item / per_rater


def _numbers_problems(
    conditions: int, n: int, raters_per_item: int, per_rater: int, design: str
) -> list[str]:
    c = conditions
    out = []
    if design == "within" and per_rater % c:
        out.append(f"items_per_rater ({per_rater}) is not a multiple of the {c} conditions")
    if raters_per_item % c:
        out.append(f"raters_per_item ({raters_per_item}) is not a multiple of the {c} conditions")
    if design == "within" and n % c:
        out.append(f"items.n ({n}) is not a multiple of the {c} conditions")
    lists = full_lists(n, raters_per_item, per_rater)
    if (n * raters_per_item) % per_rater:
        out.append(
            f"items.n x raters_per_item ({n * raters_per_item}) is not a multiple of items_per_rater "
            f"({per_rater}): the ratings make {lists:.2f} full lists"
        )
    else:
        rows = len(williams_rows(c)) if design == "within" else c
        if int(lists) % rows:
            what = "the Williams orders" if design == "within" else "the conditions"
            out.append(
                f"items.n x raters_per_item / items_per_rater = {int(lists)} full lists, not a multiple "
                f"of {rows} ({what})"
            )
    return out


def problems(config: StudyConfig) -> list[str]:
    """Why the config's numbers cannot balance (empty when they can)."""
    return _numbers_problems(
        len(config.conditions),
        config.items.count,
        config.raters_per_item,
        config.items_per_rater,
        config.design,
    )


def nearest_balanced(config: StudyConfig, *, raters_needed: int | None = None) -> list[str]:
    """The balanced numbers nearest to the config's, changing one field at a time, e.g.
    ``["items_per_rater: 30 (10 raters)", "items.n: 80 (10 raters)"]``; with
    ``recruitment.max_participants``, only numbers that many raters fill, and (``raters_needed``
    above it) the places to allow instead."""
    c, n, r, m, design = (
        len(config.conditions),
        config.items.count,
        config.raters_per_item,
        config.items_per_rater,
        config.design,
    )
    places = config.recruitment.max_participants
    out = []

    def closest(field: str, asked: int, make: Any, limit: int) -> None:
        for step in range(1, NEAREST_SEARCH_FACTOR * asked + 1):
            for value in (asked - step, asked + step):
                if 1 <= value <= limit:
                    nn, rr, mm = make(value)
                    raters = nn * rr // mm
                    fits = places is None or raters <= places
                    if mm <= nn and fits and not _numbers_problems(c, nn, rr, mm, design):
                        out.append(f"{field}: {value} ({raters} raters)")
                        return

    closest("items_per_rater", m, lambda v: (n, r, v), n)
    if config.items.ids is None:
        closest("items.n", n, lambda v: (v, r, m), NEAREST_SEARCH_FACTOR * n)
    closest("raters_per_item", r, lambda v: (n, v, m), NEAREST_SEARCH_FACTOR * r)
    if places is not None and raters_needed is not None and raters_needed > places:
        out.append(f"recruitment.max_participants: {raters_needed}")
    return out


def _plan_all(
    config: StudyConfig, study_items: Sequence[StudyItem]
) -> tuple[list[list[tuple[int, str]]], Counter[tuple[int, str]]]:
    """The regular (item, condition) lists of the raters that fill the study, arriving in turn."""
    cycles, gold = item_groups(config, study_items)
    counts: Counter[tuple[int, str]] = Counter()
    lists: list[list[tuple[int, str]]] = []
    most = math.ceil(full_lists(config.items.count, config.raters_per_item, config.items_per_rater))
    for k in range(most + EXTRA_ARRIVALS):
        plan = plan_rater(
            config=config, groups=cycles, gold_ids=gold, counts=dict(counts), arrival_index=k, rater_id=k + 1
        )
        regular = [(p.item_id, p.condition) for p in plan if not p.is_gold]
        if not regular:
            break
        counts.update(regular)
        lists.append(regular)
    return lists, counts


def rater_error_shares(
    lists: Sequence[Sequence[tuple[int, str]]], wrong: set[int], conditions: Sequence[str], share: float
) -> dict[str, Any]:
    """Model errors per rater: {study_share, fewest, most (errors in a list), min_share, max_share,
    off_share (lists whose errors are not len x study_share rounded down or up), without_both_kinds
    (lists in which a condition lacks an error or a right item)}."""
    errors = [sum(i in wrong for i, _ in mine) for mine in lists]
    shares = [e / len(mine) for e, mine in zip(errors, lists, strict=True) if mine]

    def lacks_a_kind(mine: Sequence[tuple[int, str]]) -> bool:
        kinds = {(c, i in wrong) for i, c in mine}
        shown = conditions or {c for _, c in mine}  # between: the rater's one condition
        return any((c, kind) not in kinds for c in shown for kind in (True, False))

    return {
        "study_share": round(share, 3),
        "fewest": min(errors, default=0),
        "most": max(errors, default=0),
        "min_share": round(min(shares, default=0.0), 3),
        "max_share": round(max(shares, default=0.0), 3),
        "off_share": sum(
            not (error_band(len(mine), share)[0] <= e <= error_band(len(mine), share)[1])
            for e, mine in zip(errors, lists, strict=True)
        ),
        "without_both_kinds": sum(lacks_a_kind(mine) for mine in lists),
    }


def _both_kinds_note(config: StudyConfig, share: float) -> str | None:
    """Why the numbers cannot show every rater both kinds of item under every condition, with the
    nearest items_per_rater that can (None when they can)."""
    c, m, n = len(config.conditions), config.items_per_rater, config.items.count
    if config.design != "within" or share in (0.0, 1.0):
        return None

    def fits(per_rater: int) -> bool:
        low, high = error_band(per_rater, share)
        return low >= c and per_rater - high >= c

    if fits(m):
        return None
    better = next((v for v in range(m + 1, n + 1) if v % c == 0 and fits(v)), None)
    low, high = error_band(m, share)
    fix = (
        f"; items_per_rater {better} would show both under every condition"
        if better
        else "; no items_per_rater up to items.n can, at this model-error share"
    )
    return (
        f"a rater's {m} items hold {low}-{high} model errors and {m - high}-{m - low} right items over "
        f"{c} conditions, so not every condition can show a rater both kinds of item{fix}"
    )


def realised_balance(config: StudyConfig, study_items: Sequence[StudyItem]) -> dict[str, Any]:
    """Plan the raters that fill the study (as ``assign`` would, arriving in turn) and count.

    Returns {raters (how many raters fill the study: the one number every message uses),
    full_raters, full_lists (K), items, items_every_condition, items_equal, conditions: {c:
    {assignments, errors, error_share}}, error_spread (max - min model-error assignments over
    conditions), rater_condition_spread and rater_error_spread (the largest max - min over conditions
    within one rater), rater_errors (``rater_error_shares``), position_spread (largest max - min of a
    condition's count at one position, over full raters), williams_rows, max_participants, balanced
    (bool), problems (list of str: why not balanced), notes (list of str: limits that do not
    unbalance it)}.
    """
    conditions = list(config.conditions)
    correct = {si.item_id: si.model_correct is not False for si in study_items if not si.is_gold}
    wrong = {i for i, ok in correct.items() if not ok}
    share = len(wrong) / len(correct) if correct else 0.0
    lists, counts = _plan_all(config, study_items)
    assigned = Counter(c for mine in lists for _, c in mine)
    errors = Counter(c for mine in lists for i, c in mine if i in wrong)
    within = config.design == "within"
    full = [mine for mine in lists if len(mine) == config.items_per_rater]
    rater_conditions, rater_errors, positions = _within_rater_spreads(config, lists, full, wrong)
    result = {
        "raters": len(lists),
        "full_raters": len(full),
        "full_lists": round(
            full_lists(config.items.count, config.raters_per_item, config.items_per_rater), 2
        ),
        "items": len(correct),
        "items_every_condition": sum(all(counts[(i, c)] for c in conditions) for i in correct),
        "items_equal": sum(len({counts[(i, c)] for c in conditions}) == 1 for i in correct),
        "conditions": _condition_counts(conditions, assigned, errors),
        "error_spread": _spread(errors, conditions),
        "rater_condition_spread": rater_conditions,
        "rater_error_spread": rater_errors,
        "rater_errors": rater_error_shares(lists, wrong, conditions if within else [], share),
        "position_spread": positions,
        "williams_rows": len(williams_rows(len(conditions))) if within else None,
        "max_participants": config.recruitment.max_participants,
    }
    result["problems"] = problems(config) + _realised_problems(config, result)
    result["notes"] = [note] if (note := _both_kinds_note(config, share)) else []
    result["balanced"] = not result["problems"]
    return result


def _spread(counter: Counter, conditions: Sequence[str]) -> int:
    """max - min of the counts over the conditions."""
    return max(counter[c] for c in conditions) - min(counter[c] for c in conditions)


def _condition_counts(conditions: Sequence[str], assigned: Counter, errors: Counter) -> dict[str, Any]:
    """Per condition: its assignments, how many are model errors, and their share."""
    return {
        c: {
            "assignments": assigned[c],
            "errors": errors[c],
            "error_share": round(errors[c] / assigned[c], 3) if assigned[c] else None,
        }
        for c in conditions
    }


def _within_rater_spreads(
    config: StudyConfig,
    lists: Sequence[Sequence[tuple[int, str]]],
    full: Sequence[Sequence[tuple[int, str]]],
    wrong: set[int],
) -> tuple[int, int, int]:
    """(rater_condition_spread, rater_error_spread, position_spread): the largest max - min over
    conditions of one rater's conditions, of one rater's model errors, and of a condition's count at
    one position over full raters. All 0 in a between design, where a rater sees one condition and
    only the study-wide counts can balance."""
    if config.design != "within":
        return 0, 0, 0
    conditions = list(config.conditions)
    rater_conditions = [_spread(Counter(c for _, c in mine), conditions) for mine in lists]
    rater_errors = [_spread(Counter(c for i, c in mine if i in wrong), conditions) for mine in lists]
    positions = [Counter(mine[p][1] for mine in full) for p in range(config.items_per_rater)]
    return (
        max(rater_conditions, default=0),
        max(rater_errors, default=0),
        max((_spread(p, conditions) for p in positions if p), default=0),
    )


def _realised_problems(config: StudyConfig, result: dict[str, Any]) -> list[str]:
    found = []
    if result["error_spread"] > 1:
        found.append(f"model errors differ by {result['error_spread']} items between conditions")
    if result["rater_error_spread"] > 1:
        found.append(
            f"a rater's model errors differ by {result['rater_error_spread']} items between conditions"
        )
    off = result["rater_errors"]["off_share"]
    if off:
        found.append(f"{off} raters' lists miss the study's model-error share by more than one item")
    places = config.recruitment.max_participants
    if places is not None and result["raters"] > places:
        found.append(
            f"recruitment.max_participants ({places}) cannot fill the design: {result['raters']} raters "
            f"are needed (items.n {config.items.count} x raters_per_item {config.raters_per_item} / "
            f"items_per_rater {config.items_per_rater}); raise max_participants to {result['raters']}, "
            "or change the numbers so that fewer raters fill the study"
        )
    return found


def summary_line(balance: dict[str, Any]) -> str:
    """One sentence on a ``realised_balance`` result, for `study create`, `study balance` and the
    pre-registration."""
    per_rater = balance["rater_errors"]
    return (
        f"{balance['raters']} raters fill the study ({balance['full_raters']} with a full list); "
        f"{balance['items_every_condition']}/{balance['items']} items get every condition, "
        f"{balance['items_equal']}/{balance['items']} equally often. Model errors per rater: "
        f"{per_rater['fewest']}-{per_rater['most']} (share {per_rater['min_share']:.2f}-"
        f"{per_rater['max_share']:.2f}; the study's {per_rater['study_share']:.2f}); "
        f"{per_rater['off_share']} raters off that share by more than one item, "
        f"{per_rater['without_both_kinds']} without both kinds of item under every condition. Spread "
        f"(max - min items): model errors over conditions {balance['error_spread']}; per rater: items "
        f"per condition {balance['rater_condition_spread']}, model errors per condition "
        f"{balance['rater_error_spread']}; a condition's count at one position {balance['position_spread']}"
    )
