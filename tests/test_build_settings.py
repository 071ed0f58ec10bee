"""A bench built before the build settings became typed values is up to date for the code after: every recipe hash,
every manifest description and bench.json's settings are those the golden recorded (tests/recipe_golden.py)."""

from __future__ import annotations

import json

import pytest

from .recipe_golden import GOLDEN, VARIANTS, recipes


@pytest.fixture(scope="module")
def current() -> dict:
    return recipes()


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_recipes_and_descriptions_are_those_the_golden_recorded(current, variant):
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))[variant]
    assert current[variant]["bench_settings"] == golden["bench_settings"]
    for task, expected in golden["tasks"].items():
        assert current[variant]["tasks"][task] == expected, f"{variant}: {task}"
