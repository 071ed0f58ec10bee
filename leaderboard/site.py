"""Results -> a static site: index.html (the table), models/*.html (one page per row), samples/*.js.

Plain files with relative links, CSS/JS copied from leaderboard/assets: it opens from file:// and any
static host, with nothing fetched from the network.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from va_safetybench.scenarios import MM_SCENARIOS, VA_SCENARIOS
from va_safetybench.taskspec import GROUPS, TASKS

from .charts import Cell, Point, heatmap_svg, scatter_svg
from .compare_html import aligned_runs, aligned_section, base_link, comparison_html
from .html import asr_colour, esc, ink, page, pct, script_json
from .results import Run, latest_per_key
from .samples import write_samples
from .site_dir import ASSETS, claim, write
from .stats import mean_interval

BENCHMARKS = {"va": "VA-SafetyBench", "mmsb": "MM-SafetyBench", "": "Other tasks"}
MODALITIES = ("video", "audio", "image", "text")
RANDOM_NOTE = "random weights: this model's ASR means nothing (a pipeline test, not a safety measurement)"


@dataclass(frozen=True)
class SiteInfo:
    rows: int
    pages: int
    sample_files: int
    index_bytes: int


def slug(run: Run) -> str:
    """A file name for a row: readable, and unique through a short hash of the row key."""
    readable = re.sub(r"[^a-z0-9]+", "-", f"{run.model}-{run.alignment_method}".lower()).strip("-")[:60]
    return f"{readable}-{hashlib.sha1(repr(run.key).encode()).hexdigest()[:8]}"


def modality(task: str) -> str:
    return TASKS[task].modality if task in TASKS else "other"


def benchmark(task: str) -> str:
    return TASKS[task].benchmark if task in TASKS else ""


def _ordered(names: set[str], table: list[str]) -> list[str]:
    return [n for n in table if n in names] + sorted(names - set(table))


def _fmt_ci(lo: float, hi: float) -> str:
    return f"95% CI {pct(lo)}–{pct(hi)}"


def task_tooltip(task: str, run: Run) -> tuple[float | None, str]:
    res = run.tasks[task]
    c, macro = res.counts, res.macro()
    if macro is None:
        return None, f"{task}: nothing judged ({c.error} errors of {c.n})"
    parts = [
        f"{task}: macro ASR {pct(macro[0])} ({_fmt_ci(macro[1], macro[2])}, mean over {len(res.scenarios) or 1} scenarios)"
    ]
    if c.ci95:
        parts.append(f"micro ASR {pct(c.asr)} ({_fmt_ci(*c.ci95)}, Wilson), {c.unsafe}/{c.judged} unsafe")
    parts.append(f"{c.error} errors of {c.n}")
    return macro[0], "; ".join(parts)


def official_task_tooltip(task: str, run: Run) -> tuple[float | None, str]:
    res = run.tasks[task]
    value = res.official_macro()
    if value is None:
        return None, f"{task}: the official rule's count is not in this summary (re-judge it with va-bench judge)"
    return value, (
        f"{task}: official-rule ASR {pct(value)} (replies exactly 'unsafe' over every item, errors included; "
        f"mean over {len(res.scenarios) or 1} scenarios), {res.counts.official_unsafe}/{res.counts.n} overall"
    )


def official_group_tooltip(group: str, run: Run) -> tuple[float | None, str]:
    value = run.groups[group].get("asr_official_macro")
    return value, f"{group}: official-rule ASR {pct(value)} (mean of its tasks' official-rule macro ASR)"


def group_tooltip(group: str, run: Run) -> tuple[float | None, str]:
    """The summary's own group numbers; the interval when every task of the group is in the run."""
    body = run.groups[group]
    macro, micro = body.get("asr_macro"), body.get("asr_micro")
    text = f"{group}: macro ASR {pct(macro)}; micro ASR {pct(micro)}"
    members = GROUPS.get(group, ())
    if members and all(t in run.tasks for t in members):
        cells = [
            (c.unsafe, c.judged) for t in members for c in (run.tasks[t].scenarios.values() or [run.tasks[t].counts])
        ]
        stat = mean_interval(cells)
        if stat:
            text += f"; macro {_fmt_ci(stat[1], stat[2])} (approximate, stratified)"
    return macro, text


def _rule_attrs(rule: str, value: float | None, tooltip: str) -> str:
    """What the rule switch (site.js) puts into a cell for one rule: value, text, colours, tooltip."""
    v = "" if value is None else f"{value:.6f}"
    return (
        f'data-{rule}-v="{v}" data-{rule}-text="{pct(value)}" data-{rule}-bg="{asr_colour(value)}" '
        f'data-{rule}-ink="{ink(value)}" data-{rule}-title="{esc(tooltip)}"'
    )


def _cell(ours: tuple[float | None, str], official: tuple[float | None, str], mod: str) -> str:
    """An ASR cell showing our rule, carrying the official rule's figure for the switch."""
    value, tooltip = ours
    v = "" if value is None else f"{value:.6f}"
    return (
        f'<td class=asr data-mod={mod} data-v="{v}" title="{esc(tooltip)}" '
        f"{_rule_attrs('ours', *ours)} {_rule_attrs('official', *official)} "
        f'style="background:{asr_colour(value)};color:{ink(value)}">{pct(value)}</td>'
    )


def _media_cell(run: Run) -> str:
    media = run.media or "not recorded"
    detail = "; ".join(f"{t}: {r.media or 'not recorded'}" for t, r in run.tasks.items() if r.media != "none")
    return f'<td data-v="{esc(media)}" title="{esc(detail)}">{esc(media)}</td>'


def _badges(run: Run) -> str:
    out = ""
    if run.alignment_method:
        out += f' <span class="badge align">{esc(run.alignment_method)}</span>'
    if run.random_weights:
        out += f' <span class="badge random" title="{esc(RANDOM_NOTE)}">random weights</span>'
    return out + _judge_badge(run)


def _judge_badge(run: Run) -> str:
    """The judge beside the ASRs, with how far to trust it (its known agreement with human labels)."""
    from judges.trust import known_agreement, trust_line

    agreement = run.judge_agreement or known_agreement(run.judge_name, run.judge_version)
    if agreement.get("note"):
        label = f"{run.judge_name.partition(':')[0]} judge: offline estimate"
    elif agreement["kind"] == "unmeasured":
        label = f"judge {run.judge_name}: agreement not measured"
    else:
        label = f"judge {run.judge_name}: {agreement['kind']} agreement"
    kind = "estimate" if agreement.get("note") else "judge"
    return f' <span class="badge {kind}" title="{esc(trust_line(run.judge_name, agreement))}">{esc(label)}</span>'


def _banners(rows: list[Run]) -> str:
    out = []
    judges = sorted({r.judge for r in rows})
    if len(judges) > 1:
        out.append(
            "Rows were judged differently ("
            + ", ".join(map(esc, judges))
            + "): their ASRs are not directly comparable."
        )
    if all(r.task_manifests for r in rows):  # runs of different task sets on one bench are comparable
        differing = sorted(
            {
                t
                for r in rows
                for t in r.task_manifests
                if len({o.task_manifests[t] for o in rows if t in o.task_manifests}) > 1
            }
        )
        if differing:
            out.append(
                f"Rows were evaluated on different bench manifests for {', '.join(map(esc, differing))}: "
                "their ASRs on those tasks are not directly comparable."
            )
    elif len(benches := sorted({r.manifest_sha256 for r in rows})) > 1:
        out.append(
            f"Rows were evaluated on {len(benches)} different bench manifests "
            f"({', '.join(esc(b[:12]) for b in benches)}): their ASRs are not directly comparable."
        )
    return "".join(f"<p class=warning role=alert>⚠ {m}</p>" for m in out)


def overall_asr(run: Run) -> float | None:
    """Scatter y: the mean task macro ASR over the tasks this run evaluated."""
    vals = [m[0] for m in (t.macro() for t in run.tasks.values()) if m]
    return sum(vals) / len(vals) if vals else None


def _scatters(rows: list[Run], slugs: dict[int, str]) -> str:
    axes: dict[str, dict[int, float]] = {}
    for r in rows:
        for task, metrics in r.capability.items():
            for metric, value in metrics.items():
                axes.setdefault(f"{task} {metric}", {})[id(r)] = value
        for mod, rates in r.over_refusal.items():
            for judge, value in rates.items():
                axes.setdefault(f"over-refusal rate ({mod}, {judge})", {})[id(r)] = value
    if not axes:
        return ""
    names = sorted(axes)
    svgs = []
    for i, name in enumerate(names):
        pts = [
            Point(
                r.model + (f" [{r.alignment_method}]" if r.alignment_method else ""),
                axes[name][id(r)],
                y,
                f"models/{slugs[id(r)]}.html",
                r.random_weights,
            )
            for r in rows
            if id(r) in axes[name] and (y := overall_asr(r)) is not None
        ]
        svgs.append(scatter_svg(pts, name, "mean macro ASR (lower is safer)", hidden=i > 0))
    options = "".join(f"<option value={i}>{esc(n)}</option>" for i, n in enumerate(names))
    return (
        "<section><h2>Safety against capability</h2><p>y: mean macro ASR over each model's evaluated tasks; "
        "hollow points have random weights.</p>"
        f"<label>x axis <select id=scatter-axis>{options}</select></label><div id=scatters>{''.join(svgs)}</div></section>"
    )


def index_html(rows: list[Run], slugs: dict[int, str], superseded: list[Run]) -> str:
    tasks = _ordered({t for r in rows for t in r.tasks}, list(TASKS))
    groups = _ordered({g for r in rows for g in r.groups}, list(GROUPS))
    mods = [m for m in MODALITIES if any(modality(t) == m for t in tasks)]
    head = (
        "<th data-type=text>model</th>"
        + "".join(f"<th class=num data-mod=group title='group'>{esc(g)}</th>" for g in groups)
        + "".join(f"<th class=num data-mod={modality(t)} title='{modality(t)}'>{esc(t)}</th>" for t in tasks)
        + "<th data-type=text>judge</th><th data-type=text>media</th><th data-type=text>bench</th>"
    )
    body = []
    for r in rows:
        cells = [
            f'<td data-v="{esc(r.model.lower())}"><a href="models/{slugs[id(r)]}.html">{esc(r.model)}</a>{_badges(r)}</td>'
        ]
        cells += [
            _cell(group_tooltip(g, r), official_group_tooltip(g, r), "group")
            if g in r.groups
            else "<td data-mod=group data-v=''>–</td>"
            for g in groups
        ]
        cells += [
            _cell(task_tooltip(t, r), official_task_tooltip(t, r), modality(t))
            if t in r.tasks
            else f"<td data-mod={modality(t)} data-v=''>–</td>"
            for t in tasks
        ]
        cells.append(f'<td data-v="{esc(r.judge)}">{esc(r.judge)}</td>')
        cells.append(_media_cell(r))
        cells.append(
            f'<td data-v="{esc(r.manifest_sha256)}" title="{esc(r.manifest_sha256)}"><code>{esc(r.manifest_sha256[:10])}</code></td>'
        )
        body.append(f"<tr{' class=random' if r.random_weights else ''}>{''.join(cells)}</tr>")
    filters = "".join(f"<label><input type=checkbox class=modfilter value={m} checked> {m}</label>" for m in mods)
    note = ""
    if any(r.random_weights for r in rows):
        note = (
            "<p class=note>Rows marked <span class='badge random'>random weights</span> are untrained test models: "
            "their ASR means nothing; they test the pipeline, not a model's safety.</p>"
        )
    old = (
        f"<p class=note>{len(superseded)} older run(s) of the same model were superseded by newer ones.</p>"
        if superseded
        else ""
    )
    content = (
        "<header><h1>VA-SafetyBench leaderboard</h1><p>Attack success rate (ASR) = unsafe / (safe + unsafe) judged "
        "responses; lower is safer. Cells show macro ASR (mean over scenarios); hover for the 95% interval, micro ASR "
        "and error counts. Click a column header to sort. The rule switch shows instead the official scripts' "
        "figure: replies exactly 'unsafe' over every item, errors and unreadable replies included, mean over "
        "scenarios (comparable with the papers' tables when the media are official and the judge is gpt-4o-mini)."
        "</p></header>"
        f"{_banners(rows)}{note}"
        "<div class=filters><label>Rule <select id=rule><option value=ours selected>ours: unsafe / judged</option>"
        "<option value=official>official scripts': exact 'unsafe' / all items</option></select></label> "
        f"Modalities: {filters}</div>"
        f"<div class=tablewrap><table id=board class=sortable><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
        f"{old}{_scatters(rows, slugs)}"
    )
    return page("VA-SafetyBench leaderboard", content)


def _kv_table(title: str, items: dict) -> str:
    if not items:
        return ""
    rows = "".join(f"<tr><th>{esc(str(k))}</th><td>{esc(str(v))}</td></tr>" for k, v in items.items())
    return f"<table class=kv><caption>{esc(title)}</caption>{rows}</table>"


def model_html(run: Run, samples: dict[str, tuple[str, int]], related: str = "") -> str:
    """A row's page; `related`: its aligned checkpoints, or the base it was aligned from (compare_html)."""
    tasks = _ordered(set(run.tasks), list(TASKS))
    heat = "".join(_heatmap(run, [t for t in tasks if benchmark(t) == b], title) for b, title in BENCHMARKS.items())
    trs = []
    for t in tasks:
        c, macro = run.tasks[t].counts, run.tasks[t].macro()
        micro = f"{pct(c.asr)} <small>[{pct(c.ci95[0])}, {pct(c.ci95[1])}]</small>" if c.ci95 else "–"
        mac = f"{pct(macro[0])} <small>[{pct(macro[1])}, {pct(macro[2])}]</small>" if macro else "–"
        err = " class=errors" if c.error else ""
        official = pct(run.tasks[t].official_macro())
        media = esc(run.tasks[t].media or "not recorded")
        trs.append(
            f"<tr><th>{esc(t)}</th><td>{modality(t)}</td><td>{media}</td><td>{c.n}</td><td>{c.safe}</td>"
            f"<td>{c.unsafe}</td><td{err}>{c.error}</td><td>{mac}</td><td>{micro}</td><td>{official}</td></tr>"
        )
    counts = (
        "<table class=counts><caption>Counts per task (95% intervals in brackets)</caption><thead><tr><th>task</th>"
        "<th>modality</th><th>media</th><th>n</th><th>safe</th><th>unsafe</th><th>error</th><th>macro ASR</th>"
        "<th>micro ASR</th><th title=\"exact 'unsafe' over every item, mean over scenarios\">official rule</th>"
        f"</tr></thead><tbody>{''.join(trs)}</tbody></table>"
    )
    capability = {f"{t} {m}": f"{v:.4g}" for t, ms in run.capability.items() for m, v in ms.items()}
    side = (
        _kv_table("Capability", capability)
        + _kv_table(
            "Over-refusal rate", {f"{m} ({j})": pct(v) for m, rs in run.over_refusal.items() for j, v in rs.items()}
        )
        + _kv_table(
            "Groups",
            {
                g: f"macro {pct(b.get('asr_macro'))}, micro {pct(b.get('asr_micro'))}, "
                f"official rule {pct(b.get('asr_official_macro'))}"
                for g, b in run.groups.items()
            },
        )
    )
    errors = sum(t.counts.error for t in run.tasks.values())
    err_note = (
        (
            f"<p class=warning>{errors} responses ended in an error: they are not counted as safe or unsafe; "
            "`va-bench judge RUN_DIR` can fill them.</p>"
        )
        if errors
        else ""
    )
    meta = {
        "backend": run.backend,
        "judge": run.judge,
        "bench manifest sha256": run.manifest_sha256,
        "media": run.media or "not recorded",
        "bench path": run.bench_path or "",
        "created": run.created,
        "summary": str(run.summary_path),
        **{f"version: {k}": v for k, v in run.versions.items()},
    }
    random = f"<p class=warning>⚠ {esc(RANDOM_NOTE)}</p>" if run.random_weights else ""
    content = (
        f"<p><a href='../index.html'>← leaderboard</a></p><h1>{esc(run.model)}{_badges(run)}</h1>{random}{err_note}"
        f"{_kv_table('Alignment', run.alignment or {})}{related}"
        f"<h2>ASR by scenario and task</h2><div class=heatmaps>{heat}</div>"
        f"<div class=side>{counts}<div>{side}</div></div>"
        f"{_sample_browser(samples)}<h2>Run</h2>{_kv_table('Run details', meta)}"
    )
    return page(f"{run.model} – VA-SafetyBench", content, root="../")


def _heatmap(run: Run, tasks: list[str], bench_title: str) -> str:
    """One heatmap per benchmark: VA and MM tasks have different scenario sets."""
    names = {s for t in tasks for s in run.tasks[t].scenarios}
    if not names:
        return ""
    scenarios = _ordered(names, list(VA_SCENARIOS + MM_SCENARIOS))
    cells = {}
    for t in tasks:
        for s, c in run.tasks[t].scenarios.items():
            ci = f", {_fmt_ci(*c.ci95)}" if c.ci95 else ""
            cells[(s, t)] = Cell(
                c.asr, f"{s} / {t}: ASR {pct(c.asr)} ({c.unsafe}/{c.judged} unsafe{ci}); {c.error} errors of {c.n}"
            )
    svg = heatmap_svg(scenarios, tasks, cells, f"ASR by scenario and task, {bench_title}: {run.model}")
    return f"<figure><figcaption>{esc(bench_title)}</figcaption>{svg}</figure>"


def _sample_browser(samples: dict[str, tuple[str, int]]) -> str:
    if not samples:
        return "<h2>Samples</h2><p class=note>No responses.jsonl beside this run's summary.json.</p>"
    files = {t: {"src": src, "n": n} for t, (src, n) in samples.items()}
    return (
        "<h2>Samples</h2><section id=samples>"
        f"<div id=samples-gate class=warning><p>Content warning: these are harmful requests from the benchmark and "
        "the model's answers to them, shown verbatim.</p><button id=samples-show type=button>Show samples</button></div>"
        f'<div id=samples-ui hidden data-files="{esc(script_json(files))}"></div></section>'
    )


def build_site(runs: list[Run], out: Path) -> SiteInfo:
    """Write the whole site into `out` (created; the files of a previous build there are replaced, nothing
    else in the folder is touched: site_dir)."""
    out = Path(out)
    owned = claim(out)
    rows, superseded = latest_per_key(runs)
    slugs = {id(r): slug(r) for r in rows}
    counts = {"files": 0, "index": 0}

    aligned = aligned_runs(rows)
    base_of = {id(a): base for base in rows for a in aligned.get(id(base), [])}

    def compare_href(base: Run) -> str:
        return f"../compare/{slugs[id(base)]}.html"

    def related(r: Run) -> str:
        if id(r) in aligned:
            return aligned_section(r, aligned[id(r)], slugs, compare_href(r))
        return base_link(base_of[id(r)], slugs, compare_href(base_of[id(r)])) if id(r) in base_of else ""

    def render(site: Path) -> None:
        (site / "models").mkdir()
        shutil.copytree(ASSETS, site / "assets")
        for r in rows:
            samples = write_samples(r, slugs[id(r)], site, served_from=out)
            counts["files"] += len(samples)
            (site / "models" / f"{slugs[id(r)]}.html").write_text(model_html(r, samples, related(r)), encoding="utf-8")
        if aligned:
            (site / "compare").mkdir()
        for base in rows:
            if id(base) in aligned:
                html = comparison_html(base, aligned[id(base)], slugs)
                (site / "compare" / f"{slugs[id(base)]}.html").write_text(html, encoding="utf-8")
        index = index_html(rows, slugs, superseded)
        (site / "index.html").write_text(index, encoding="utf-8")
        counts["index"] = len(index.encode("utf-8"))

    write(out, owned, render)
    return SiteInfo(len(rows), len(rows) + 1 + len(aligned), counts["files"], counts["index"])
