"""The leaderboard site in a real headless Chromium, opened from file:// (no server, no network)."""

from __future__ import annotations

from tests.browser_support import ARTIFACTS, browser, open_page  # noqa: F401  # fixture
from tests.leaderboard_data import PAYLOAD, three_models
from va_safetybench.cli import main


def test_site_in_chromium(tmp_path, browser):  # noqa: F811
    runs = three_models(tmp_path)
    assert main(["leaderboard", str(runs), "--out", str(tmp_path / "site")]) == 0
    page, errors, requests = open_page(browser, tmp_path / "site" / "index.html")

    # the table renders: three rows, flags and the judge warning
    models = lambda: page.locator("#board tbody td:first-child a").all_inner_texts()  # noqa: E731
    assert len(models()) == 3
    assert page.locator("#board tbody tr.random .badge.random").count() == 1
    assert page.locator("p.warning", has_text="judged differently").is_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "leaderboard_index.png"), full_page=True)

    # clicking a column header sorts by it, and a second click reverses the order
    col = page.locator("#board thead th", has_text="va_video_typo")
    values = lambda: page.locator("#board tbody tr").evaluate_all(  # noqa: E731
        "(rows, i) => rows.map(r => r.cells[i].dataset.v)", col.evaluate("th => th.cellIndex")
    )
    col.click()
    asc, asc_models = [float(v) for v in values()], models()
    assert asc == sorted(asc) and len(set(asc)) == 3 and col.get_attribute("aria-sort") == "ascending"
    col.click()
    assert [float(v) for v in values()] == asc[::-1] and models() == asc_models[::-1]

    # the modality filter hides the audio column
    assert page.locator("#board thead th", has_text="va_audio_kpt").is_visible()
    page.locator("input.modfilter[value=audio]").uncheck()
    assert page.locator("#board thead th", has_text="va_audio_kpt").is_hidden()

    # the model page: the heatmap SVG with a cell per (scenario, task)
    page.locator("#board a", has_text="Qwen2-VL-7B-Instruct").first.click()
    page.wait_for_selector("svg.heatmap")
    assert page.locator("svg.heatmap rect").count() >= 3 * 8
    assert page.locator("#samples-ui").is_hidden()  # behind the content warning

    # the sample browser shows the payload as text and never runs it
    page.click("#samples-show")
    page.select_option("#samples-task", "va_video_typo")
    page.wait_for_selector("#samples-list .sample")
    texts = page.locator("#samples-list pre").all_inner_texts()
    assert PAYLOAD in texts
    assert any(t.startswith("</script><!-- ") for t in texts)
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.locator("#samples-list img, #samples-list script").count() == 0
    href = page.locator("#samples-list a").first.evaluate("a => a.href")
    assert href == (tmp_path / "runs" / "bench" / "Video" / "1-IllegalActivitiy" / "TYPO" / "0.mp4").as_uri()
    page.select_option("#samples-verdict", "unsafe")
    assert all("verdict: unsafe" in m for m in page.locator("#samples-list .sample > .meta").all_inner_texts())
    page.screenshot(path=str(ARTIFACTS / "leaderboard_model.png"), full_page=True)

    assert not errors, errors
    assert all(u.startswith("file://") for u in requests), [u for u in requests if not u.startswith("file://")]
    page.close()


def test_scatter_labels_of_runs_at_the_same_spot_do_not_overprint(tmp_path, browser):  # noqa: F811
    """Random-weight runs all score alike: their points coincide, and their names must still be readable. Chromium's
    own text boxes (getBBox, the site's stylesheet) of the labels do not overlap and stay inside the chart."""
    from leaderboard.charts import Point, scatter_svg
    from leaderboard.site_dir import ASSETS

    names = ["tiny:qwen2-vl", "tiny:qwen2-vl + SEA", "tiny:llava-onevision-qwen2", "tiny:qwen2-audio", "x"]
    points = [Point(n, 0.5, 0.25, "#") for n in names] + [Point("apart", 0.9, 0.8, "#")]
    css = (ASSETS / "site.css").read_text(encoding="utf-8")
    page_file = tmp_path / "scatter.html"
    page_file.write_text(f"<!doctype html><style>{css}</style>{scatter_svg(points, 'score', 'ASR')}", encoding="utf-8")
    page, errors, _ = open_page(browser, page_file)
    boxes = page.locator("svg.scatter .pt text").evaluate_all(
        "ts => ts.map(t => { const b = t.getBBox(); return [b.x, b.y, b.x + b.width, b.y + b.height]; })"
    )
    assert len(boxes) == len(points)
    for i, a in enumerate(boxes):
        assert 0 <= a[0] and a[2] <= 560 and 0 <= a[1] and a[3] <= 380, a
        for b in boxes[i + 1 :]:
            assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]), (a, b)
    assert not errors, errors
    page.close()
