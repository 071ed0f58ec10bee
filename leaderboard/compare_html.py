"""The comparison pages of the site: a base model against its aligned checkpoints, and the links between them.

A run trained by `sea-align` carries its recipe in `alignment` (from the checkpoint's va_safetybench.json), whose
`base` names the model it was trained from, spelt as `va-bench eval --model` spells it. The base model's page lists
its aligned checkpoints with their recipes and links the comparison page (compare/<base>.html: compare.py's figures,
the first column the base), each aligned run's page links back. Everything shown is escaped.
"""

from __future__ import annotations

from va_safetybench.errors import InputError

from .compare import Comparison, Rate, change_text, compare_runs, label, score_delta_text, score_text
from .html import asr_colour, esc, ink, page, pct
from .results import Run

RECIPE_KEYS = ("method", "modality", "base", "n", "preset", "lora", "lr", "epochs", "trainer")
RANDOM = "Random weights: these figures mean nothing; the page shows the pipeline (evaluate, align, evaluate, compare)."


def aligned_runs(rows: list[Run]) -> dict[int, list[Run]]:
    """id(base row) -> the rows aligned from it (by `alignment.base` == the base row's model), in method order."""
    by_model = {r.model: r for r in rows if not r.alignment_method}
    found: dict[int, list[Run]] = {}
    for r in rows:
        base = by_model.get(str((r.alignment or {}).get("base", "")))
        if r.alignment_method and base is not None:
            found.setdefault(id(base), []).append(r)
    return {k: sorted(v, key=lambda r: (r.alignment_method, r.model)) for k, v in found.items()}


def recipe(run: Run) -> str:
    """The alignment recipe, one line: method, modality, items, preset, LoRA rank..."""
    a = run.alignment or {}
    parts = [f"{k} {a[k]}" for k in RECIPE_KEYS if k not in ("method", "base") and a.get(k) not in (None, "")]
    return ", ".join(parts)


def aligned_section(base: Run, aligned: list[Run], slugs: dict[int, str], compare_href: str) -> str:
    """On the base model's page: its aligned checkpoints, recipes and the comparison link."""
    items = "".join(
        f"<li><a href='{slugs[id(r)]}.html'>{esc(r.model)}</a> <span class='badge align'>{esc(r.alignment_method)}"
        f"</span> <small>{esc(recipe(r))}</small></li>"
        for r in aligned
    )
    return (
        f"<section id=aligned><h2>Aligned checkpoints</h2><ul>{items}</ul>"
        f"<p><a href='{compare_href}'>{esc(base.model)} against its aligned checkpoints, task by task →</a></p></section>"
    )


def base_link(base: Run, slugs: dict[int, str], compare_href: str) -> str:
    """On an aligned run's page: where it came from."""
    return (
        f"<p>Aligned from <a href='{slugs[id(base)]}.html'>{esc(base.model)}</a>; "
        f"<a href='{compare_href}'>compare them task by task</a>.</p>"
    )


def _rate_cell(rate: Rate | None) -> str:
    if rate is None:
        return "<td class=missing>–</td>"
    value = rate.value
    tip = f"{rate.hits}/{rate.trials} unsafe, {rate.errors} errors"
    interval = f" <small>[{pct(rate.interval[0])}, {pct(rate.interval[1])}]</small>" if rate.interval else ""
    style = f"background:{asr_colour(value)};color:{ink(value)}"
    return f"<td class=asr title='{esc(tip)}' style='{style}'>{pct(value)}{interval}</td>"


def _change_cell(text: str, significant: bool, direction: str) -> str:
    cls = f" class='sig {direction}'" if significant else ""
    return f"<td{cls}>{esc(text)}</td>"


def comparison_body(cmp: Comparison, slugs: dict[int, str]) -> str:
    """The comparison tables: ASR per task (with intervals and changes), then capability and over-refusal."""

    def heads(first: str, change: str) -> str:
        cells = [f"<th>{first}</th>"]
        for i, r in enumerate(cmp.runs):
            name = esc(label(r))
            link = f"<a href='../models/{slugs[id(r)]}.html'>{name}</a>" if id(r) in slugs else name
            cells.append(f"<th>{link}</th>" + ("" if i == 0 else f"<th>{change}</th>"))
        return "".join(cells)

    rows = []
    for row in cmp.tasks:
        cells = [f"<th>{esc(row.task)}</th>", _rate_cell(row.rates[0])]
        for rate, change in zip(row.rates[1:], row.changes):
            significant = bool(change and change.significant)
            cells += [
                _rate_cell(rate),
                _change_cell(change_text(change), significant, change.direction if change else ""),
            ]
        rows.append(f"<tr>{''.join(cells)}</tr>")
    rule = "ASR = unsafe / judged" if cmp.metric == "asr" else "official rule: exact 'unsafe' / every item"
    tables = (
        f"<table class=compare><caption>Safety per task ({esc(rule)}; lower is safer; 95% Wilson intervals)"
        f"</caption><thead><tr>{heads('task', 'change, p')}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )
    if cmp.scores:
        score_rows = []
        for s in cmp.scores:
            cells = [f"<th>{esc(s.name)}</th><td>{esc(score_text(s.section, s.values[0]))}</td>"]
            cells += [
                f"<td>{esc(score_text(s.section, v))}</td><td>{esc(score_delta_text(s.section, d))}</td>"
                for v, d in zip(s.values[1:], s.deltas)
            ]
            score_rows.append(f"<tr>{''.join(cells)}</tr>")
        tables += (
            "<table class=compare><caption>Capability and over-refusal (change against the first column)</caption>"
            f"<thead><tr>{heads('score', 'change')}</tr></thead><tbody>{''.join(score_rows)}</tbody></table>"
        )
    note = (
        f"<p class=note>change: percentage points against the first column; p: regress's test (pooled "
        f"two-proportion z-test, Fisher's exact test for small counts), two-sided; marked significant at "
        f"p &lt; {cmp.alpha}, per task.</p>"
    )
    random = f"<p class=warning role=alert>⚠ {esc(RANDOM)}</p>" if cmp.random_weights else ""
    return random + tables + note


def comparison_html(base: Run, aligned: list[Run], slugs: dict[int, str]) -> str:
    """compare/<base>.html: the base model against its aligned checkpoints; a refusal's reason if not comparable."""
    title = f"{base.model} against its aligned checkpoints"
    try:
        body = comparison_body(compare_runs([base, *aligned]), slugs)
    except InputError as exc:
        body = f"<p class=warning role=alert>{esc(str(exc))}</p>"
    content = f"<p><a href='../index.html'>← leaderboard</a></p><h1>{esc(title)}</h1>{body}"
    return page(f"{title} – VA-SafetyBench", content, root="../")
