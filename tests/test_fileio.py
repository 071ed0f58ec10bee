"""The one atomic writer and the one JSONL reader/appender (va_safetybench/fileio.py): a crash at any byte leaves
a file every reader accepts, and a damaged line that is not the tail is named, never skipped silently."""

from __future__ import annotations

import json
import os

import pytest

from va_safetybench.errors import InputError
from va_safetybench.fileio import FileFormat, append_jsonl, atomic_write, atomic_writer, jsonl_lines, read_jsonl

ROWS = [
    {
        "task": "va_video_typo",
        "id": "1",
        "response": "d\u00e9j\u00e0 vu \u2014 \U0001f600",
    },  # 2-, 3- and 4-byte characters
    {"task": "mmsb_typo", "id": "2", "response": "plain"},
    {"task": "mmsb_typo", "id": "3", "response": "\u6f22\u5b57 at the end"},
]


def _bytes(rows) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")


def test_a_file_cut_at_any_byte_reads_as_its_complete_lines(tmp_path):
    data = _bytes(ROWS)
    ends = [i + 1 for i, b in enumerate(data) if b == ord("\n")]
    path = tmp_path / "log.jsonl"
    for cut in range(len(data) + 1):
        path.write_bytes(data[:cut])
        complete = sum(end <= cut for end in ends)
        # a cut just before a newline leaves a whole object: kept, as a file written without a final newline
        whole_tail = cut + 1 in ends
        assert read_jsonl(path) == ROWS[: complete + whole_tail], cut


def test_a_bad_line_before_the_tail_names_the_file_and_line(tmp_path):
    path = tmp_path / "responses.jsonl"
    good = _bytes(ROWS[:1])
    for bad, why in ((b'{"task": ', "not valid JSON"), (b"\xff\xfe{}", "not valid UTF-8"), (b"[1, 2]", "a list")):
        path.write_bytes(good + bad + b"\n" + _bytes(ROWS[1:]))
        with pytest.raises(InputError, match=f"{path}:2: .*{why}"):
            read_jsonl(path)
        assert [r["id"] for r in read_jsonl(path, skip_bad=True)] == ["1", "2", "3"]  # a cache may skip it
    assert [line.where for line in jsonl_lines(path, skip_bad=True)] == [f"{path}:1", f"{path}:3", f"{path}:4"]


def test_blank_lines_are_skipped_and_a_missing_file_is_named(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_bytes(b"\n" + _bytes(ROWS[:1]) + b"   \n")
    assert read_jsonl(path) == ROWS[:1]
    with pytest.raises(InputError, match="nope.jsonl: no such file"):
        read_jsonl(tmp_path / "nope.jsonl")


def test_append_cuts_a_torn_tail_and_keeps_a_whole_one(tmp_path):
    path = tmp_path / "cache.jsonl"
    data = _bytes(ROWS[:2])
    cut_inside_a_character = data.index("\U0001f600".encode()) + 2
    path.write_bytes(data[:cut_inside_a_character])
    rows = FileFormat("test rows", 3)
    appended = {"format_version": 3, **ROWS[2]}  # each appended row carries its format's version
    append_jsonl(path, rows, ROWS[2:])
    assert read_jsonl(path) == [appended]  # the fragment is gone, not left in the middle
    path.write_bytes(data.rstrip(b"\n"))  # another tool's file without a final newline
    append_jsonl(path, rows, ROWS[2:])
    assert read_jsonl(path) == ROWS[:2] + [appended] and path.read_bytes().endswith(b"\n")
    append_jsonl(path, rows, [])
    assert read_jsonl(path) == ROWS[:2] + [appended]


def test_atomic_write_replaces_whole_and_leaves_nothing_behind_on_failure(tmp_path):
    path = tmp_path / "deep" / "summary.json"
    atomic_write(path, "first\n")
    atomic_write(path, b"second\n")
    assert path.read_text() == "second\n"
    with pytest.raises(RuntimeError), atomic_writer(path) as tmp:
        tmp.write_text("half")
        raise RuntimeError("writer failed")
    assert path.read_text() == "second\n" and os.listdir(path.parent) == ["summary.json"]
