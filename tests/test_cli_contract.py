"""The command line users' scripts rely on stays as it is while the code behind it is restructured: every command's
help (flags, metavars, help text, order) and the values its options take, defaults included, equal the golden
(tests/cli_contract.py says what it holds and how to regenerate it on purpose)."""

from __future__ import annotations

import json

import pytest

from .cli_contract import GOLDEN, contract


@pytest.fixture(scope="module")
def current() -> dict:
    return contract()


@pytest.fixture(scope="module")
def golden() -> dict:
    return json.loads(GOLDEN.read_text(encoding="utf-8"))


def test_every_command_is_in_the_contract(current, golden):
    assert {p: sorted(c) for p, c in current.items()} == {p: sorted(c) for p, c in golden.items()}


@pytest.mark.parametrize("program", ["va-bench", "sea-align"])
def test_each_command_keeps_its_help_and_option_values(current, golden, program):
    for command, expected in golden[program].items():
        got = current[program][command]
        assert got["help"] == expected["help"], f"{program} {command} --help changed"
        for want, have in zip(expected["values"], got["values"], strict=True):
            assert have == want, f"{program} {command} {' '.join(want['argv'])}: option values changed"
