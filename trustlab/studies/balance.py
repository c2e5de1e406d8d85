"""Whether a study's numbers give a balanced design, what the design realises, and the nearest numbers
that balance (issue 12).

Balanced (within design) means: every rater sees every condition equally often (C divides
items_per_rater), every item gets every condition equally often (C divides raters_per_item and
items.n), a whole number K = items.n x raters_per_item / items_per_rater of raters fills the study, and
K completes the Williams orders (a multiple of C for even C, 2C for odd C), so each condition is at
each position equally often. Between design: C divides raters_per_item and K. With those numbers the
assignment (``assign.plan_rater``) gives every condition the same share of model errors, to one item,
overall and per rater; ``realised_balance`` checks it by planning the K raters without a database.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

from trustlab.db.schema import StudyItem
from trustlab.studies.assign import item_groups, plan_rater
from trustlab.studies.config import StudyConfig
from trustlab.studies.orders import williams_rows

# How far from the asked numbers to look for balanced ones (a factor of the asked value).
NEAREST_SEARCH_FACTOR = 4
# Extra arrivals planned beyond ceil(K), to see raters that a leftover would give a short list.
EXTRA_ARRIVALS = 10


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
    if (n * raters_per_item) % per_rater:
        out.append(
            f"items.n x raters_per_item ({n * raters_per_item}) is not a multiple of items_per_rater "
            f"({per_rater}): {n * raters_per_item / per_rater:.2f} raters would fill the study"
        )
    else:
        raters = n * raters_per_item // per_rater
        rows = len(williams_rows(c)) if design == "within" else c
        if raters % rows:
            what = "the Williams orders" if design == "within" else "the conditions"
            out.append(f"the {raters} raters that fill the study are not a multiple of {rows} ({what})")
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


def nearest_balanced(config: StudyConfig) -> list[str]:
    """The balanced numbers nearest to the config's, changing one field at a time, e.g.
    ``["items_per_rater: 30 (10 raters)", "items.n: 80 (10 raters)"]``."""
    c, n, r, m, design = (
        len(config.conditions),
        config.items.count,
        config.raters_per_item,
        config.items_per_rater,
        config.design,
    )
    out = []

    def closest(field: str, asked: int, make: Any, limit: int) -> None:
        for step in range(1, NEAREST_SEARCH_FACTOR * asked + 1):
            for value in (asked - step, asked + step):
                if 1 <= value <= limit:
                    nn, rr, mm = make(value)
                    if mm <= nn and not _numbers_problems(c, nn, rr, mm, design):
                        out.append(f"{field}: {value} ({nn * rr // mm} raters)")
                        return

    closest("items_per_rater", m, lambda v: (n, r, v), n)
    if config.items.ids is None:
        closest("items.n", n, lambda v: (v, r, m), NEAREST_SEARCH_FACTOR * n)
    closest("raters_per_item", r, lambda v: (n, v, m), NEAREST_SEARCH_FACTOR * r)
    return out


def realised_balance(config: StudyConfig, study_items: Sequence[StudyItem]) -> dict[str, Any]:
    """Plan the raters that fill the study (as ``assign`` would, arriving in turn) and count.

    Returns {raters, full_raters, items, items_every_condition, items_equal, conditions: {c:
    {assignments, errors, error_share}}, error_spread (max - min model-error assignments over
    conditions), rater_condition_spread and rater_error_spread (the largest max - min over conditions
    within one rater), position_spread (largest max - min of a condition's count at one position, over
    full raters), williams_rows, balanced (bool), problems (list of str)}.
    """
    conditions = list(config.conditions)
    groups, gold = item_groups(config, study_items)
    correct = {si.item_id: si.model_correct is not False for si in study_items if not si.is_gold}
    counts: Counter[tuple[int, str]] = Counter()
    lists: list[list[tuple[int, str]]] = []
    most = math.ceil(config.items.count * config.raters_per_item / config.items_per_rater) + EXTRA_ARRIVALS
    for k in range(most):
        plan = plan_rater(
            config=config, groups=groups, gold_ids=gold, counts=dict(counts), arrival_index=k, rater_id=k + 1
        )
        regular = [(p.item_id, p.condition) for p in plan if not p.is_gold]
        if not regular:
            break
        counts.update(regular)
        lists.append(regular)
    assigned = Counter(c for mine in lists for _, c in mine)
    errors = Counter(c for mine in lists for i, c in mine if not correct[i])
    table = {
        c: {
            "assignments": assigned[c],
            "errors": errors[c],
            "error_share": round(errors[c] / assigned[c], 3) if assigned[c] else None,
        }
        for c in conditions
    }

    def spread(counter: Counter) -> int:
        return max(counter[c] for c in conditions) - min(counter[c] for c in conditions)

    within = config.design == "within"
    # Between: a rater sees one condition, so only the study-wide counts can balance.
    rater_conditions = [spread(Counter(c for _, c in mine)) for mine in lists] if within else []
    rater_errors = [spread(Counter(c for i, c in mine if not correct[i])) for mine in lists] if within else []
    full = [mine for mine in lists if len(mine) == config.items_per_rater]
    positions = (
        [Counter(mine[p][1] for mine in full) for p in range(config.items_per_rater)] if within else []
    )
    result = {
        "raters": len(lists),
        "full_raters": len(full),
        "items": len(correct),
        "items_every_condition": sum(all(counts[(i, c)] for c in conditions) for i in correct),
        "items_equal": sum(len({counts[(i, c)] for c in conditions}) == 1 for i in correct),
        "conditions": table,
        "error_spread": spread(errors),
        "rater_condition_spread": max(rater_conditions, default=0),
        "rater_error_spread": max(rater_errors, default=0),
        "position_spread": max((spread(p) for p in positions if p), default=0),
        "williams_rows": len(williams_rows(len(conditions))) if within else None,
    }
    found = problems(config)
    if result["error_spread"] > 1:
        found.append(f"model errors differ by {result['error_spread']} items between conditions")
    if result["rater_error_spread"] > 1:
        found.append(
            f"a rater's model errors differ by {result['rater_error_spread']} items between conditions"
        )
    result["problems"] = found
    result["balanced"] = not found
    return result

