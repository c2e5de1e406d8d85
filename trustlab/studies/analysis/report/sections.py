"""Report sections a methods reviewer looks for: the primary (confirmatory) result (also in Markdown,
for the researcher tab), participant flow, agreement per condition, the hardest items, the learning
check, the exploratory mixed model and the frozen vs current labels sensitivity analysis."""

from __future__ import annotations

import html
from typing import Any

import numpy as np

# Items listed in the report (all of them are in items.csv).
MAX_ITEMS_SHOWN = 10


def fmt(value: Any, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "–"
    return f"{value:.{digits}f}"


def preregistration_statement(primary: dict[str, Any]) -> str:
    """The sentence saying whether summary["primary"] was pre-registered (``preregistered``)."""
    return (primary.get("preregistration") or {}).get("statement") or "not pre-registered"


def primary_section(summary: dict[str, Any]) -> str:
    """The report's confirmatory result first (HTML): measure, contrasts, Holm-adjusted p and
    Holm-consistent CI."""
    primary = summary.get("primary") or {}
    if not primary.get("contrasts"):
        return ""
    origin = html.escape(preregistration_statement(primary))
    lines = []
    for row in primary["contrasts"]:
        pair = f"<b>{html.escape(row['a'])}</b> − <b>{html.escape(row['b'])}</b>"
        if row.get("diff") is None:
            lines.append(f"{pair}: <span class='na'>{html.escape(row.get('reason', 'undefined'))}</span>")
            continue
        verdict = "<span class='good'>significant</span>" if row["significant"] else "not significant"
        lines.append(
            f"{pair}: {row['diff']:+.3f} [{fmt(row['ci_low_adj'], 3)}, {fmt(row['ci_high_adj'], 3)}] "
            f"(Holm-consistent CI), Holm p = {fmt(row['p_holm'], 3)} — {verdict} at α = {primary['alpha']}"
        )
    return (
        f"<h2>Primary result (confirmatory)</h2><div class='find'><b>{html.escape(primary['measure'])}</b>, "
        f"{origin}; {html.escape(primary['correction'])}.<br>" + "<br>".join(lines) + "</div>"
    )


def primary_markdown(summary: dict[str, Any]) -> str:
    """The same confirmatory result in Markdown, for the researcher tab: measure, whether it was
    pre-registered, each contrast with its Holm-consistent interval and Holm-adjusted p."""
    primary = summary.get("primary") or {}
    head = f"**Primary result** ({primary.get('measure', '–')}; {preregistration_statement(primary)})"
    if not primary.get("contrasts"):
        return f"{head}: none yet ({primary.get('reason') or 'no contrast could be estimated'})."
    lines = []
    for row in primary["contrasts"]:
        pair = f"{row['a']} − {row['b']}"
        if row.get("diff") is None:
            lines.append(f"- {pair}: {row.get('reason', 'undefined')}")
            continue
        verdict = "**significant**" if row["significant"] else "not significant"
        lines.append(
            f"- {pair}: {row['diff']:+.3f}, interval [{fmt(row['ci_low_adj'], 3)}, "
            f"{fmt(row['ci_high_adj'], 3)}] (Holm-consistent), Holm-adjusted p = {fmt(row['p_holm'], 3)}: "
            f"{verdict} at α = {primary['alpha']}"
        )
    n = (summary.get("study") or {}).get("n_judgements")
    basis = f" from {n} judgements" if n is not None else ""
    return f"{head}{basis}; {primary.get('correction', '')}.\n\n" + "\n".join(lines)


def method_line(summary: dict[str, Any]) -> str:
    inference = summary.get("inference", {})
    if not inference:
        return ""
    return (
        f"<p class='small'><b>Inference:</b> {html.escape(inference['method'])}. "
        f"{html.escape(inference.get('calibration', ''))}.</p>"
    )


def flow_section(summary: dict[str, Any]) -> str:
    flow = summary.get("flow") or {}
    if not flow:
        return ""
    head = (
        "<h2>Participant flow</h2><table><tr><th class='l'>Condition</th><th>invited</th><th>started</th>"
        "<th>completed</th><th>timed out</th><th>excluded</th><th>analysed</th><th>judgements</th>"
        "<th>can't tell</th></tr>"
    )
    rows = []
    for condition, e in flow.items():
        reasons = "; ".join(f"{k}: {v}" for k, v in e["excluded"]["reasons"].items())
        cells = [e.get(k) for k in ("invited", "started", "completed", "timed_out")]
        rows.append(
            f"<tr><td class='l'>{html.escape(condition)}</td>"
            + "".join(f"<td>{'–' if v is None else v}</td>" for v in cells)
            + f"<td title='{html.escape(reasons)}'>{e['excluded']['n']}</td><td>{e['analysed']}</td>"
            f"<td>{e['judgements']}</td><td>{e['cant_tell']} ({fmt(e['cant_tell_rate'], 2)})</td></tr>"
        )
    note = (
        "<p class='small'>Counts are raters (judgements where named). “–”: assignments were not "
        "loaded. Can't-tell answers are kept out of the other measures and counted here.</p>"
    )
    return head + "".join(rows) + "</table>" + note


def agreement_by_condition_section(agreement: dict[str, Any]) -> str:
    by_condition = agreement.get("by_condition") or {}
    if not by_condition:
        return ""
    answers = list(next(iter(by_condition.values())).keys())
    head = "".join(f"<th>{html.escape(a)}</th>" for a in answers)
    rows = []
    for condition, stats in by_condition.items():
        cells = []
        for answer in answers:
            v = stats[answer]
            if v.get("value") is None:
                cells.append(f"<td class='na' title='{html.escape(v.get('reason', ''))}'>n/a</td>")
            else:
                cells.append(
                    f"<td>{fmt(v['value'], 3)} <span class='small'>[{fmt(v['ci_low'], 2)}, "
                    f"{fmt(v['ci_high'], 2)}]</span></td>"
                )
        rows.append(f"<tr><td class='l'>{html.escape(condition)}</td>{''.join(cells)}</tr>")
    return (
        "<p class='small'>Krippendorff's α per condition (verify and true label nominal, trust ordinal) "
        "with 95% intervals from resampling items.</p>"
        f"<table><tr><th class='l'>Condition</th>{head}</tr>{''.join(rows)}</table>"
    )


def items_section(summary: dict[str, Any]) -> str:
    items = summary.get("items") or []
    if not items:
        return ""
    rows = "".join(
        f"<tr><td class='l'>{r['item_id']}</td><td>{'right' if r['model_correct'] else 'wrong'}</td>"
        f"<td>{r['n']}</td><td>{fmt(r['difficulty'])}</td><td>{fmt(r['verify_agreement'])}</td>"
        f"<td>{fmt(r['mean_trust'], 1)}</td></tr>"
        for r in items[:MAX_ITEMS_SHOWN]
    )
    return (
        f"<h2>Hardest items</h2><p class='small'>The {min(len(items), MAX_ITEMS_SHOWN)} items with the most "
        "wrong verdicts (all in items.csv). Difficulty = share of wrong verdicts; agreement = share of "
        "verdicts agreeing with the item's majority.</p><table><tr><th class='l'>Item</th><th>model</th>"
        f"<th>n</th><th>difficulty</th><th>agreement</th><th>mean trust</th></tr>{rows}</table>"
    )


def learning_section(summary: dict[str, Any]) -> str:
    learning = summary.get("learning") or {}
    if "per_condition" not in learning:
        return ""
    rows = []
    for condition, r in learning["per_condition"].items():
        rows.append(
            f"<tr><td class='l'>{html.escape(condition)}</td><td>{fmt(r.get('diff'), 3)}</td>"
            f"<td>[{fmt(r.get('ci_low'), 3)}, {fmt(r.get('ci_high'), 3)}]</td>"
            f"<td>{fmt(r.get('p'), 3)}</td></tr>"
        )
    for r in learning["interaction"]:
        rows.append(
            f"<tr><td class='l'>{html.escape(r['a'])} vs {html.escape(r['b'])} (interaction)</td>"
            f"<td>{fmt(r['diff'], 3)}</td><td>[{fmt(r['ci_low'], 3)}, {fmt(r['ci_high'], 3)}]</td>"
            f"<td>{fmt(r['p'], 3)}</td></tr>"
        )
    return (
        "<h2>Learning check (exploratory)</h2><p class='small'>Verification accuracy, "
        f"{html.escape(learning['definition'])}; unadjusted 95% CI and p.</p><table><tr><th class='l'>"
        f"Condition</th><th>difference</th><th>95% CI</th><th>p</th></tr>{''.join(rows)}</table>"
    )


def mixed_section(mixed: dict[str, Any]) -> str:
    parts = ["<h2>Mixed-effects model (exploratory)</h2>"]
    if "coefficients" not in mixed:
        parts.append(f"<p class='na'>{html.escape(mixed.get('error', 'not fitted'))}</p>")
        return "".join(parts)
    status = (
        "converged"
        if mixed.get("converged")
        else "<span class='bad'>did not converge: "
        + html.escape("; ".join(mixed.get("warnings", [])))
        + "</span>"
    )
    priors = "; ".join(f"{k.replace('_', ' ')}: {v}" for k, v in mixed.get("priors", {}).items())
    parts.append(
        f"<p class='small'>{html.escape(mixed['formula'])}; {html.escape(mixed['method'])}, {status}. "
        f"Priors: {html.escape(priors)}. {html.escape(mixed.get('interval', ''))}. Log-odds relative to "
        f"<b>{html.escape(mixed['reference'])}</b>; rater SD {fmt(mixed['rater_sd'])}, item SD "
        f"{fmt(mixed['item_sd'])}.</p><table><tr><th class='l'>Term</th><th>log-odds</th>"
        "<th>95% credible interval</th><th>odds ratio</th></tr>"
    )
    for c in mixed["coefficients"]:
        parts.append(
            f"<tr><td class='l'>{html.escape(c['term'])}</td><td>{fmt(c['log_odds'])}</td>"
            f"<td>[{fmt(c['ci_low'])}, {fmt(c['ci_high'])}]</td><td>{fmt(c['odds_ratio'])}</td></tr>"
        )
    parts.append("</table>")
    return "".join(parts)


def _pair_cell(entry: dict[str, Any], digits: int = 3) -> str:
    if entry.get("mean") is None:
        return "<td class='na'>n/a</td>"
    return (
        f"<td>{fmt(entry['mean'], digits)} <span class='small'>[{fmt(entry['ci_low'], digits)}, "
        f"{fmt(entry['ci_high'], digits)}]</span></td>"
    )


def _contrast_cell(entry: dict[str, Any]) -> str:
    if entry.get("diff") is None:
        return f"<td class='na'>{html.escape(entry.get('reason') or 'n/a')}</td>"
    verdict = "<span class='good'>significant</span>" if entry.get("significant") else "not significant"
    return (
        f"<td>{entry['diff']:+.3f} <span class='small'>[{fmt(entry['ci_low_adj'], 3)}, "
        f"{fmt(entry['ci_high_adj'], 3)}]</span>, Holm p = {fmt(entry['p_holm'], 3)} ({verdict})</td>"
    )


def sensitivity_section(summary: dict[str, Any]) -> str:
    """Frozen vs current labels side by side (``analyze --labels current``): how many items' labels
    changed, the primary contrasts and the label-dependent measures per condition under both."""
    block = (summary.get("sensitivity") or {}).get("current_labels")
    if not block:
        return ""
    changed = block["labels_changed"]
    primary = block["primary"]
    rows = "".join(
        f"<tr><td class='l'><b>{html.escape(r['a'])}</b> − <b>{html.escape(r['b'])}</b></td>"
        f"{_contrast_cell(r['frozen'])}{_contrast_cell(r['current'])}</tr>"
        for r in primary["contrasts"]
    )
    measure_rows = []
    for condition, measures in block["conditions"].items():
        for measure, both in measures.items():
            measure_rows.append(
                f"<tr><td class='l'>{html.escape(condition)}</td><td class='l'>{html.escape(measure)}</td>"
                f"{_pair_cell(both['frozen'])}{_pair_cell(both['current'])}</tr>"
            )
    excluded = block["excluded_raters"]
    return (
        "<h2>Sensitivity: frozen vs current labels</h2><p class='small'>"
        f"{html.escape(block['note'])}. Labels changed since study create: {changed['items_changed']} "
        f"rated items ({changed['model_correct_flipped']} of them change whether the model is right) and "
        f"{changed['gold_items_changed']} gold items. Raters excluded: {excluded['frozen']} (frozen), "
        f"{excluded['current']} (current).</p>"
        f"<table><tr><th class='l'>Primary contrast ({html.escape(primary['measure'])})</th>"
        f"<th>frozen labels (primary)</th><th>current labels</th></tr>{rows}</table>"
        "<table><tr><th class='l'>Condition</th><th class='l'>Measure</th><th>frozen labels</th>"
        f"<th>current labels</th></tr>{''.join(measure_rows)}</table>"
    )
