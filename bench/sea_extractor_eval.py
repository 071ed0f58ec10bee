"""How well does SEA's offline phrase extractor match MM-SafetyBench's key phrases (GPT-4 labelled)?

Reads ../shared/data/mm-safetybench/processed_questions (Question -> Key Phrase, Phrase Type) and
prints exact match and token F1 of the phrase, and type accuracy, on the activity/product items
(SEA only uses those two types) and on all items. Compared with the naive baseline "the whole
question is the phrase". Usage: python bench/sea_extractor_eval.py [DATA_DIR]
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

from sea_align.extract import OfflineExtractor


def tokens(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def f1(pred: str, gold: str) -> float:
    p, g = tokens(pred), tokens(gold)
    common = sum((Counter(p) & Counter(g)).values())
    if not common:
        return 0.0
    prec, rec = common / len(p), common / len(g)
    return 2 * prec * rec / (prec + rec)


def main() -> int:
    root = Path(
        sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "../shared/data/mm-safetybench"
    )
    files = sorted((root / "processed_questions").glob("*.json"))
    if not files:
        print(f"no MM-SafetyBench questions under {root}", file=sys.stderr)
        return 2
    items = [v for f in files for v in json.loads(f.read_text(encoding="utf-8")).values()]
    extract = OfflineExtractor()
    rows = []
    for it in items:
        ph = extract(it["Question"])
        rows.append((it["Phrase Type"], ph, it["Key Phrase"], it["Question"]))
    for label, subset in (("activity/product", [r for r in rows if r[0] in ("activity", "product")]), ("all", rows)):
        n = len(subset)
        em = sum(tokens(ph.text) == tokens(gold) for _, ph, gold, _ in subset) / n
        tf1 = sum(f1(ph.text, gold) for _, ph, gold, _ in subset) / n
        base_f1 = sum(f1(q, gold) for _, _, gold, q in subset) / n
        typed = [(t, ph) for t, ph, _, _ in subset if t in ("activity", "product")]
        acc = sum(t == ph.type for t, ph in typed) / max(1, len(typed))
        print(
            f"{label:17s} n={n:5d}  exact={em:.3f}  token_f1={tf1:.3f}  (whole-question baseline f1={base_f1:.3f}, "
            f"ratio {tf1 / base_f1:.2f}x)  type_acc={acc:.3f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
