"""One Registry for every extension point (va_safetybench/registry.py): each registered entry resolves, an unknown
name reads the same everywhere, and judges declare their options as fields that match what they take."""

from __future__ import annotations

import dataclasses
import inspect
import sys

import pytest

from judges.base import Judge
from judges.registry import JUDGES, judge_class, make_judge, option_names
from va_safetybench.capability.names import TASKS as CAPABILITY_TASKS
from va_safetybench.cli import COMMANDS, main
from va_safetybench.errors import InputError
from va_safetybench.models.adapters import FAMILIES
from va_safetybench.models.registry import BACKENDS, ModelSpec, answer_options
from va_safetybench.models.tiny import TINY_MODELS
from va_safetybench.registry import Registry

REGISTRIES = [BACKENDS, FAMILIES, TINY_MODELS, JUDGES, COMMANDS, CAPABILITY_TASKS]


@pytest.mark.parametrize("registry", REGISTRIES, ids=lambda r: r.what)
def test_every_entry_resolves(registry):
    optional = {"vllm", "lmms-eval"}  # backends and commands of extras that may not be installed here
    for name in registry:
        try:
            assert registry.get(name) is not None
        except ModuleNotFoundError:
            assert name in optional, name


def test_unknown_names_read_the_same_everywhere():
    with pytest.raises(InputError, match=r"unknown backend 'hff'; did you mean 'hf'; known: hf, tiny, openai, vllm"):
        BACKENDS.get("hff")
    with pytest.raises(InputError, match=r"unknown model family 'lava'; did you mean 'llava'; known: qwen2_vl"):
        FAMILIES.get("lava")
    with pytest.raises(InputError, match=r"unknown tiny model 'lava'; did you mean 'llava'; known: qwen2-vl"):
        TINY_MODELS.get("lava")
    with pytest.raises(InputError, match=r"unknown judge 'gtp'; did you mean 'gpt'; known: .*gpt:MODEL"):
        make_judge("gtp:x")


def test_entries_are_imported_only_when_asked_for():
    registry: Registry[object] = Registry("thing", {"json": "json:dumps", "value": 42})
    assert registry.target("json") == "json:dumps" and registry.target("value") is None
    assert registry.get("json") is sys.modules["json"].dumps and registry["value"] == 42
    lazy = Registry("command", {"x": "va_safetybench.commands.schema"})
    assert "x" in lazy and lazy.names() == ["x"]
    with pytest.raises(ValueError, match="already registered"):
        registry.register("json", "json:loads")


def test_the_cli_reports_an_unknown_model_in_one_line(capsys):
    assert main(["eval", "--model", "tiny:lava", "--tasks", "mmsb_typo"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "va-bench: error: --model 'tiny:lava': unknown tiny model 'lava'; did you mean 'llava'; "
        f"known: {', '.join('tiny:' + n for n in TINY_MODELS)}"
    )


@pytest.mark.parametrize("name", list(BACKENDS))
def test_every_backend_option_says_whether_it_changes_answers(name):
    """The response cache key holds the options that change answers; each option is declared one way or the other
    (the openai backend's retry settings, once missing from a hand list, only change how it retries)."""
    backend = BACKENDS.get(name)
    try:
        factory = backend.load()
    except ModuleNotFoundError:
        pytest.skip(f"{name} is not installed here")
    options = set(list(inspect.signature(factory).parameters)[1:])  # after the model name
    assert options == backend.answers | backend.neutral and not backend.answers & backend.neutral
    if name == "openai":
        args = {"base_url": "http://x/v1", "video_frames": 4, "retry_base": 0.1, "retry_cap": 2, "timeout": 9}
        assert answer_options(ModelSpec("openai", "m"), args) == {"base_url": "http://x/v1", "video_frames": 4}
    assert answer_options(ModelSpec(name, "m"), {"not_declared": 1}) == {
        "not_declared": 1
    }  # unknown: assumed to matter


@pytest.mark.parametrize("kind", list(JUDGES))
def test_a_judge_takes_exactly_the_options_it_declares(kind):
    """Options are fields of the judge class's `Options` (their defaults and help live there); a constructor that
    names its options takes exactly those, with the same defaults."""
    cls = judge_class(kind)
    assert issubclass(cls, Judge) and dataclasses.is_dataclass(cls.Options)
    declared = {f.name: f.default for f in dataclasses.fields(cls.Options)}
    assert all(f.metadata.get("help") for f in dataclasses.fields(cls.Options)), "every option says what it does"
    parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]  # after self
    if JUDGES.get(kind).argument != "none":
        parameters = parameters[1:]  # the spec's argument (keyword list, model, checkpoint path) is no option
    named = {p.name: p.default for p in parameters if p.kind is not p.VAR_KEYWORD}
    if not any(p.kind is p.VAR_KEYWORD for p in parameters):
        assert named == declared
    assert set(declared) <= set(option_names(kind))
