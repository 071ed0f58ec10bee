"""A tiny MME-format question set drawn by code, so `va-bench demo` runs a capability task offline.

Eight images of coloured shapes, each with MME's pair of yes/no questions (one answered Yes, one
No), in four of MME's perception categories (existence, count, color, position). It is written as
the hub's own parquet (question_id, image {bytes, path}, question, answer, category), so the demo
runs the real `mme` task, loader and metric (capability.mme) on it through `mme_path`.
"""

from __future__ import annotations

import io
from pathlib import Path

from ..fileio import atomic_writer

SIZE = 96  # pixels: large enough to show the shapes, small enough for a tiny model on a CPU
ASK = " Please answer yes or no."

# shape: (kind circle|square|triangle, colour name, (left, top, right, bottom) box)
Shape = tuple[str, str, tuple[int, int, int, int]]
COLOURS = {"red": (220, 30, 30), "green": (30, 160, 60), "blue": (30, 60, 220), "yellow": (230, 200, 20)}
LEFT, RIGHT, MIDDLE = (8, 30, 40, 62), (56, 30, 88, 62), (30, 30, 66, 66)

# (category, image name, shapes, question answered Yes, question answered No)
IMAGES: tuple[tuple[str, str, tuple[Shape, ...], str, str], ...] = (
    (
        "existence",
        "demo_existence_1.png",
        (("circle", "red", MIDDLE),),
        "Is there a circle in this image?",
        "Is there a triangle in this image?",
    ),
    (
        "existence",
        "demo_existence_2.png",
        (("triangle", "blue", MIDDLE),),
        "Is there a triangle in this image?",
        "Is there a square in this image?",
    ),
    (
        "count",
        "demo_count_1.png",
        (("square", "green", LEFT), ("square", "green", RIGHT)),
        "Are there two squares in this image?",
        "Are there three squares in this image?",
    ),
    (
        "count",
        "demo_count_2.png",
        (
            ("circle", "blue", (4, 36, 28, 60)),
            ("circle", "blue", (36, 36, 60, 60)),
            ("circle", "blue", (68, 36, 92, 60)),
        ),
        "Are there three circles in this image?",
        "Are there two circles in this image?",
    ),
    (
        "color",
        "demo_color_1.png",
        (("square", "yellow", MIDDLE),),
        "Is the square in this image yellow?",
        "Is the square in this image blue?",
    ),
    (
        "color",
        "demo_color_2.png",
        (("circle", "green", MIDDLE),),
        "Is the circle in this image green?",
        "Is the circle in this image red?",
    ),
    (
        "position",
        "demo_position_1.png",
        (("circle", "red", LEFT), ("square", "blue", RIGHT)),
        "Is the red circle on the left of the blue square?",
        "Is the red circle on the right of the blue square?",
    ),
    (
        "position",
        "demo_position_2.png",
        (("triangle", "green", LEFT), ("circle", "yellow", RIGHT)),
        "Is the yellow circle on the right of the green triangle?",
        "Is the yellow circle on the left of the green triangle?",
    ),
)


def draw(shapes: tuple[Shape, ...]) -> bytes:
    """PNG bytes of the shapes on a white square."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (SIZE, SIZE), (255, 255, 255))
    pen = ImageDraw.Draw(image)
    for kind, colour, (x0, y0, x1, y1) in shapes:
        fill = COLOURS[colour]
        if kind == "circle":
            pen.ellipse((x0, y0, x1, y1), fill=fill)
        elif kind == "square":
            pen.rectangle((x0, y0, x1, y1), fill=fill)
        else:
            pen.polygon([((x0 + x1) // 2, y0), (x0, y1), (x1, y1)], fill=fill)
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def rows() -> list[dict]:
    """The set's rows as lmms-lab/MME stores them: an image's two questions share its question_id."""
    out = []
    for category, name, shapes, yes, no in IMAGES:
        image = {"bytes": draw(shapes), "path": name}
        out += [
            {"question_id": name, "image": image, "question": q + ASK, "answer": a, "category": category}
            for q, a in ((yes, "Yes"), (no, "No"))
        ]
    return out


def write_demo_mme(folder: Path) -> Path:
    """Write the set as FOLDER/test-00000-of-00001.parquet (pass it as lm-eval metadata `mme_path`)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = folder / "test-00000-of-00001.parquet"
    with atomic_writer(path) as tmp:
        pq.write_table(pa.Table.from_pylist(rows()), tmp)
    return path
