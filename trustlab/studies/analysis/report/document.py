"""A self-contained HTML report (plots embedded as base64 PNG) that a researcher reads in a minute."""

from __future__ import annotations

import base64
import html
import io
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from trustlab.studies.analysis.report.sections import (  # noqa: E402
    agreement_by_condition_section,
    flow_section,
    items_section,
    learning_section,
    method_line,
    mixed_section,
    primary_section,
    sensitivity_section,
)
from trustlab.wording import counted  # noqa: E402

# The measures in the headline table and the forest plot, with the words a reader sees.
HEADLINE = {
    "verification_accuracy": "Verification accuracy",
    "ai_alone_accuracy": "AI alone (always accept)",
    "balanced_accuracy": "Balanced accuracy",
    "accept_rate_model_right": "Accepts right predictions",
    "accept_rate_model_wrong": "Accepts wrong predictions (over-reliance)",
    "error_detection_dprime": "Error detection d′",
    "criterion_c": "Criterion c (> 0: accepts)",
    "trust_auroc": "Trust AUROC",
    "confidence_auroc": "Confidence AUROC (type 2)",
    "simulation_accuracy": "Simulation accuracy",
    "true_label_accuracy": "True-label accuracy",
    "cant_tell_rate": "Can't tell",
}
# Higher is better for every headline measure except accepting wrong predictions.
LOWER_IS_BETTER = {"accept_rate_model_wrong"}
FOREST_MEASURES = (
    "verification_accuracy",
    "accept_rate_model_wrong",
    "error_detection_dprime",
    "trust_auroc",
    "simulation_accuracy",
    "true_label_accuracy",
)
ALPHA = 0.05  # when the summary names no alpha (summary["primary"]["alpha"] wins)
# Beyond this many condition pairs the forest plot shows only the contrasts against none.
MAX_FOREST_PAIRS = 6

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:24px auto;
padding:0 16px;color:#1d2430;line-height:1.45}
h1{font-size:1.6em;margin-bottom:4px} h2{border-bottom:2px solid #e3e7ee;padding-bottom:4px;margin-top:32px}
.meta{color:#5a6475}
table{border-collapse:collapse;margin:8px 0 16px;font-size:0.92em;display:block;overflow-x:auto}
th,td{border:1px solid #d8dde6;padding:5px 9px;text-align:right} th{background:#f3f5f9}
td.l,th.l{text-align:left} .find{background:#f6f9ff;border-left:4px solid #3b6fd8;padding:8px 14px}
.good{color:#17803d;font-weight:600} .bad{color:#b42318;font-weight:600} .na{color:#8a93a3}
.note{background:#fff8e6;border-left:4px solid #e0a100;padding:6px 12px;margin:6px 0}
img{max-width:100%} .small{font-size:0.88em;color:#5a6475} td span.small{white-space:nowrap}
"""


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "–"
    return f"{value:.{digits}f}"


def _cell(estimate: dict[str, Any] | None) -> str:
    if not estimate or estimate.get("mean") is None:
        reason = html.escape((estimate or {}).get("reason", "not measured"))
        return f'<td class="na" title="{reason}">n/a</td>'
    return (
        f"<td>{_fmt(estimate['mean'])} <span class='small'>[{_fmt(estimate['ci_low'])}, "
        f"{_fmt(estimate['ci_high'])}]</span></td>"
    )


def _alpha(summary: dict[str, Any]) -> float:
    return float((summary.get("primary") or {}).get("alpha") or ALPHA)


def _findings(summary: dict[str, Any]) -> list[str]:
    """One sentence per exploratory contrast with Holm p < alpha within its measure's family."""
    out = []
    alpha = _alpha(summary)
    for row in summary.get("contrasts", []):
        if row["measure"] not in HEADLINE or row.get("role") == "confirmatory":
            continue
        if row.get("p_holm") is None or row["p_holm"] >= alpha:
            continue
        better = (row["diff"] < 0) if row["measure"] in LOWER_IS_BETTER else (row["diff"] > 0)
        word = '<span class="good">better</span>' if better else '<span class="bad">worse</span>'
        out.append(
            f"<b>{html.escape(row['a'])}</b> vs <b>{html.escape(row['b'])}</b>: "
            f"{HEADLINE[row['measure']].lower()} {row['diff']:+.2f} "
            f"[{_fmt(row.get('ci_low_adj'))}, {_fmt(row.get('ci_high_adj'))}], "
            f"Holm p = {row['p_holm']:.3g} ({word})"
        )
    return out


def _largest_against_none(summary: dict[str, Any], k: int = 3) -> list[str]:
    rows = [
        r
        for r in summary.get("contrasts", [])
        if r["b"] == "none"
        and r["measure"]
        in ("verification_accuracy", "accept_rate_model_wrong", "true_label_accuracy", "simulation_accuracy")
    ]
    rows.sort(key=lambda r: -abs(r["diff"]))
    return [
        f"{html.escape(r['a'])}: {HEADLINE[r['measure']].lower()} {r['diff']:+.2f} "
        f"[{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}]"
        for r in rows[:k]
    ]


def _forest(summary: dict[str, Any]) -> str | None:
    """One panel per measure (two columns); with many conditions only the contrasts against none
    are drawn (all pairs are in contrasts.csv)."""
    rows = [
        r
        for r in summary.get("contrasts", [])
        if r["measure"] in FOREST_MEASURES and r.get("ci_low_adj", r["ci_low"]) is not None
    ]
    alpha = _alpha(summary)
    against_none = [r for r in rows if r["b"] == "none"]
    if against_none and len({(r["a"], r["b"]) for r in rows}) > MAX_FOREST_PAIRS:
        rows = against_none
    if not rows:
        return None
    measures = [m for m in FOREST_MEASURES if any(r["measure"] == m for r in rows)]
    labels = list(dict.fromkeys(f"{r['a']} − {r['b']}" for r in rows))
    n_cols = min(2, len(measures))
    n_rows = -(-len(measures) // n_cols)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(11, n_rows * (0.32 * len(labels) + 1.2)), squeeze=False)
    for ax in axes.flat[len(measures) :]:
        ax.set_axis_off()
    for ax, measure in zip(axes.flat, measures, strict=False):
        for r in (r for r in rows if r["measure"] == measure):
            y = labels.index(f"{r['a']} − {r['b']}")
            # The interval drawn is the Holm-consistent one: it excludes 0 exactly when p_holm < alpha.
            credible = r.get("p_holm") is not None and r["p_holm"] < alpha
            colour = "#1f5fbf" if credible else "#8a93a3"
            low, high = r.get("ci_low_adj", r["ci_low"]), r.get("ci_high_adj", r["ci_high"])
            ax.plot([low, high], [y, y], color=colour, lw=2.5 if r.get("role") == "confirmatory" else 1.8)
            ax.plot(r["diff"], y, "o", color=colour, ms=6)
        ax.axvline(0, color="#b42318", lw=1, ls="--")
        better = "lower is better" if measure in LOWER_IS_BETTER else "higher is better"
        ax.set_title(f"{HEADLINE[measure]} ({better})", fontsize=10)
        ax.set_yticks(range(len(labels)), labels, fontsize=9)
        ax.set_ylim(len(labels) - 0.5, -0.5)
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle(
        f"Difference a − b with Holm-consistent CI (blue: Holm p < {alpha:g} within the family; "
        "thick: confirmatory; dashed line: no difference)",
        fontsize=11,
    )
    fig.tight_layout()
    return _png(fig)


def _calibration(frame: pd.DataFrame | None, likert: int, conditions: list[str]) -> str | None:
    """P(model right) at each trust level, per condition: rising lines = trust tracks correctness."""
    if frame is None or frame["trust_value"].notna().sum() == 0:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    for condition in conditions:
        group = frame[frame["condition"] == condition]
        by_level = (
            group.dropna(subset=["trust_value"]).groupby("trust_value")["model_correct"].agg(["mean", "size"])
        )
        if by_level.empty:
            continue
        left.plot(by_level.index, by_level["mean"], "o-", label=f"{condition}")
    left.set_xlabel(f"trust rating (1 = not at all … {likert} = completely)")
    left.set_ylabel("share of those predictions that were right")
    left.set_ylim(-0.05, 1.05)
    left.set_xticks(range(1, likert + 1))
    left.set_title("Trust calibration: does trust rise with correctness?", fontsize=10)
    left.legend(fontsize=8)
    left.grid(alpha=0.3)
    verdicts = frame.dropna(subset=["accept"])
    if not verdicts.empty:
        table = verdicts.groupby(["condition", "model_correct"])["accept"].mean().unstack()
        table = table.reindex([c for c in conditions if c in table.index])
        positions = np.arange(len(table))
        for offset, (key, label, colour) in enumerate(
            ((True, "model right", "#17803d"), (False, "model wrong", "#b42318"))
        ):
            if key in table.columns:
                right.bar(
                    positions + (offset - 0.5) * 0.38, table[key].to_numpy(), 0.38, label=label, color=colour
                )
        right.set_xticks(positions, table.index, rotation=20)
        right.set_ylim(0, 1)
        right.set_ylabel("share of predictions accepted")
        right.set_title("Reliance: accepting right vs wrong predictions", fontsize=10)
        right.legend(fontsize=8)
        right.grid(axis="y", alpha=0.3)
    else:
        right.set_axis_off()
    fig.tight_layout()
    return _png(fig)


def _agreement_rows(agreement: dict[str, Any]) -> str:
    names = {
        "krippendorff_alpha_nominal": "Krippendorff's α (nominal)",
        "fleiss_kappa": "Fleiss' κ",
        "krippendorff_alpha_ordinal": "Krippendorff's α (ordinal)",
        "krippendorff_alpha_interval": "Krippendorff's α (interval)",
    }
    rows = []
    for answer, stats in agreement.items():
        if answer == "by_condition":
            continue
        for key, value in stats.items():
            shown = (
                _fmt(value.get("value"), 3)
                if value.get("value") is not None
                else (f"<span class='na'>n/a – {html.escape(value.get('reason', ''))}</span>")
            )
            rows.append(
                f"<tr><td class='l'>{html.escape(answer)}</td><td class='l'>{names.get(key, key)}</td>"
                f"<td class='l'>{shown}</td></tr>"
            )
    return "".join(rows)


def render_report(summary: dict[str, Any], frame: pd.DataFrame | None) -> str:
    """The report as one HTML string (no external files, scripts or fonts)."""
    parts = [_header(summary)]
    for note in summary.get("notes", []):
        parts.append(f"<div class='note'>{html.escape(note)}</div>")
    if summary.get("conditions", {}):
        parts.append(_findings_section(summary))
        parts.append(_conditions_table(summary["conditions"]))
        parts.append(_figures(summary, frame))
        parts.append(learning_section(summary))
        parts.append(items_section(summary))
        parts.append(mixed_section(summary.get("mixed_model", {})))
        parts.append(
            "<h2>Agreement between raters</h2><table><tr><th class='l'>Answer</th><th class='l'>Statistic"
            f"</th><th class='l'>Value</th></tr>{_agreement_rows(summary.get('agreement', {}))}</table>"
        )
        parts.append(agreement_by_condition_section(summary.get("agreement", {})))
    parts.append(flow_section(summary))
    parts.append(_excluded_section(summary))
    parts.append(_methods(summary))
    parts.append("</body></html>")
    return "".join(parts)


def _header(summary: dict[str, Any]) -> str:
    """The page's head and the study in one line: model, dataset, design and how much was analysed."""
    study = summary["study"]
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>Study report: {html.escape(study['name'])}"
        f"</title><style>{CSS}</style></head><body>"
        f"<h1>Do explanations help? Study “{html.escape(study['name'])}”</h1>"
        f"<p class='meta'>Model <b>{html.escape(str(study['model']))}</b> on dataset "
        f"<b>{html.escape(study['dataset'])}</b> · {study['design']}-subject design · "
        f"{study.get('n_raters', 0)} raters, {study.get('n_items', 0)} items, "
        f"{counted(study.get('n_judgements', 0), 'judgement')} analysed · "
        f"{counted(len(summary.get('excluded_raters', [])), 'rater')} excluded</p>"
    )


def _findings_section(summary: dict[str, Any]) -> str:
    """The confirmatory result, how it was computed, its sensitivity, then the exploratory findings."""
    findings = _findings(summary)
    parts = [
        primary_section(summary),
        method_line(summary),
        sensitivity_section(summary),
        "<h2>Other findings (exploratory)</h2><div class='find'>",
        "<br>".join(findings)
        if findings
        else "No other contrast on the headline measures has Holm p < "
        f"{_alpha(summary):g} within its measure's family.",
    ]
    largest = _largest_against_none(summary)
    if largest:
        parts.append(
            "<br><span class='small'>Largest differences against none (estimate [95% CI]): "
            + "; ".join(largest)
            + "</span>"
        )
    parts.append("</div>")
    return "".join(parts)


def _conditions_table(conditions: dict[str, Any]) -> str:
    """The headline measures per condition, each a mean with its interval."""
    header = "".join(f"<th>{label}</th>" for label in HEADLINE.values())
    parts = [
        "<h2>Results per condition</h2><p class='small'>Mean [95% CI]; CIs from the two-way "
        "(raters x items) cluster-robust method below. “AI alone” is the accuracy of always accepting "
        "the prediction on the same judgements: verification accuracy below it means raters did worse "
        "than the model. n = judgements. Hover “n/a” for the reason.</p>",
        f"<table><tr><th class='l'>Condition</th><th>n</th>{header}<th>Median time (s)</th></tr>",
    ]
    for name, entry in conditions.items():
        cells = "".join(_cell(entry.get(m)) for m in HEADLINE)
        median = entry.get("median_response_ms")
        parts.append(
            f"<tr><td class='l'><b>{html.escape(name)}</b></td><td>{entry['n']}</td>{cells}"
            f"<td>{_fmt(median / 1000 if median else None, 1)}</td></tr>"
        )
    parts.append("</table>")
    return "".join(parts)


def _figures(summary: dict[str, Any], frame: pd.DataFrame | None) -> str:
    """The forest plot of contrasts and the trust calibration plot, where there is something to draw."""
    study = summary["study"]
    parts = []
    forest = _forest(summary)
    if forest:
        parts.append(f"<h2>Contrasts</h2><img alt='forest plot of contrasts' src='{forest}'>")
    calibration = _calibration(frame, study["likert_points"], list(study["conditions"]))
    if calibration:
        parts.append(f"<h2>Trust and reliance</h2><img alt='calibration plot' src='{calibration}'>")
    return "".join(parts)


def _excluded_section(summary: dict[str, Any]) -> str:
    """The exclusion rule and the raters it excluded, with their gold items seen and failed."""
    parts = ["<h2>Excluded raters</h2>", f"<p>{html.escape(summary.get('exclusion_rule', ''))}.</p>"]
    excluded = summary.get("excluded_raters", [])
    if excluded:
        parts.append("<table><tr><th class='l'>Rater</th><th>gold items seen</th><th>failed</th></tr>")
        parts.extend(
            f"<tr><td class='l'>{html.escape(r['rater'])}</td><td>{r['gold_seen']}</td>"
            f"<td>{r['gold_failures']}</td></tr>"
            for r in excluded
        )
        parts.append("</table>")
    else:
        parts.append("<p>Nobody was excluded.</p>")
    return "".join(parts)


def _methods(summary: dict[str, Any]) -> str:
    study = summary["study"]
    inference = summary.get("inference", {})
    measures = "".join(
        f"<li><b>{html.escape(k)}</b>: {html.escape(v)}</li>" for k, v in summary["measures"].items()
    )
    return (
        "<h2>Methods</h2><p>Raters saw items under the conditions "
        f"{', '.join(html.escape(c) for c in study['conditions'])} ({study['design']}-subject; "
        f"{study['raters_per_item']} raters per item, {study['items_per_rater']} items per rater). "
        "Each rater's latest answer per item is analysed; gold items are not. "
        f"Intervals and p-values: {html.escape(inference.get('method', 'n/a'))}; "
        f"{html.escape(inference.get('p_adjust', ''))}. {html.escape(inference.get('calibration', ''))}. "
        "d′ and criterion c are computed per rater with the log-linear correction and averaged over raters; "
        "trust and confidence AUROCs likewise. Per-rater means are tested against chance with a "
        "one-sample t-test (see summary.json). Agreement: Krippendorff's α (krippendorff package), Fleiss' κ "
        "(statsmodels) when every item has the same number of ratings. The mixed model is exploratory.</p>"
        f"<ul class='small'>{measures}</ul><p class='small'>Files: "
        f"{', '.join(html.escape(f) for f in summary.get('files', []))}.</p>"
    )
