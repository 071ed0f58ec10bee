"""The loop in the main command: `va-bench demo` aligns its tiny Qwen2-VL with SEA, evaluates the aligned checkpoint
and sets it against its base run in the printout, in compare.json and on the site, where a headless Chromium shows
base and aligned side by side, every figure said to mean nothing (random weights)."""

from __future__ import annotations

import json

import pytest

from va_safetybench.commands.demo import SEA_RUN, SEA_TASKS

from .browser_support import ARTIFACTS, browser, open_page  # noqa: F401  # fixture

pytestmark = pytest.mark.slow
IMAGE_SAFETY = ("mmsb_text_only", "mmsb_typo")  # mm_safetybench without SD images (the demo builds none)


def test_the_demo_aligns_evaluates_and_compares(demo):
    printed = (demo.parent / "stdout.txt").read_text()
    assert (
        printed.index("== sea-align run")
        < printed.index(f"-> {demo / 'runs' / SEA_RUN}")
        < printed.index("== va-bench compare")
    )
    recipe = json.loads((demo / "sea" / "checkpoint" / "va_safetybench.json").read_text())
    assert recipe["random_weights"] is True
    assert {k: recipe["alignment"][k] for k in ("method", "modality", "base", "preset")} == {
        "method": "SEA-DPO",
        "modality": "image",
        "base": "tiny:qwen2-vl",
        "preset": "quick",
    }
    aligned = json.loads((demo / "runs" / SEA_RUN / "summary.json").read_text())
    assert aligned["random_weights"] is True and aligned["alignment"]["method"] == "SEA-DPO"
    assert set(IMAGE_SAFETY) <= set(aligned["tasks"]) and "mme" in aligned["capability"]
    assert "image" in aligned["over_refusal"]

    comparison = json.loads((demo / "compare.json").read_text())
    assert [r["model"] for r in comparison["runs"]] == ["tiny:qwen2-vl", f"hf:{demo / 'sea' / 'checkpoint'}"]
    assert comparison["random_weights"] is True
    for task in IMAGE_SAFETY:  # both runs scored, the change tested
        rates, (change,) = comparison["tasks"][task]["rates"], comparison["tasks"][task]["changes"]
        assert all(r["trials"] + r["errors"] == 8 for r in rates) and change["test"] in ("z", "fisher")
        assert f"{task}  " in printed
    assert comparison["tasks"]["va_video_typo"]["rates"][1] is None  # not evaluated after aligning on images
    assert any(s["name"].startswith("mme ") for s in comparison["scores"])
    assert "Random weights in these runs: their figures mean nothing" in printed
    assert "and the changes alignment made to them, mean nothing" in printed
    assert set(SEA_TASKS) == {"mm_safetybench", "mme", "benign_image_typo"}


def test_base_and_aligned_render_side_by_side_in_chromium(demo, browser):  # noqa: F811
    page, errors, requests = open_page(browser, demo / "site" / "index.html")
    assert page.locator("#board .badge.align", has_text="SEA-DPO").count() == 1

    page.locator("#board tbody td:first-child a", has_text="tiny:qwen2-vl").first.click()
    section = page.locator("#aligned")
    assert section.is_visible() and "SEA-DPO" in section.inner_text() and "modality image" in section.inner_text()
    section.locator("a", has_text="against its aligned checkpoints").click()
    page.wait_for_selector("table.compare")
    heads = page.locator("table.compare").first.locator("thead th").all_inner_texts()
    assert heads[1] == "tiny:qwen2-vl" and heads[2].endswith("[SEA-DPO]") and heads[3] == "change, p"
    for task in IMAGE_SAFETY:  # a rate in each run's column, with its interval, and the change beside
        row = page.locator("table.compare tbody tr", has=page.locator("th", has_text=task)).first
        cells = row.locator("td").all_inner_texts()
        assert len(cells) == 3 and all("%" in c and "[" in c for c in cells[:2]) and " pt, p=" in cells[2]
    assert page.locator("p.warning", has_text="Random weights").is_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "demo_compare.png"), full_page=True)
    assert not errors, errors
    assert all(u.startswith("file://") for u in requests), [u for u in requests if not u.startswith("file://")]
    page.close()
