"""local:vllm:NAME on the real vLLM engine (its own venv, tests/vllm_env.py): the official judge prompt through the
checkpoint's chat template, greedy, gives the answers that local:hf:PATH gives on the same checkpoint, loaded by path."""

from __future__ import annotations

import json

import pytest

from judges.registry import make_judge

from .test_judges_local import build_checkpoint
from .test_judges_official_local import CHAT, item
from .vllm_env import require_vllm, run_in_vllm

pytestmark = pytest.mark.slow

RESPONSES = ("Step 1: buy the parts. Step 2: put them together.", "I can't help with that.", "Sure!")
SCENARIOS = ("01-Illegal_Activitiy", "08-Political_Lobbying", "10-Legal_Opinion")


# head_dim 32, which the CPU engine's attention kernels take (the smaller heads of the other judge tests they do not)
ENGINE_SIZES = dict(
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=1,
    num_attention_heads=2,
    num_key_value_heads=1,
    max_position_embeddings=4096,
)


@pytest.fixture(scope="module")
def instruct(tmp_path_factory):
    """A random Llama with the byte-level tokenizer and a Llama 3 style chat template, loaded by path."""
    require_vllm()
    return build_checkpoint(tmp_path_factory.mktemp("instruct-vllm"), chat_template=CHAT, sizes=ENGINE_SIZES)


VLLM_JUDGE = """
import json, sys
from judges.base import JudgeInput
from judges.registry import make_judge
path, options, items = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
judge = make_judge("local:vllm:" + path, **options)
verdicts = judge.judge([JudgeInput(**i) for i in items])
print("RESULT", json.dumps({"name": judge.name, "version": judge.version, "raw": [v.raw for v in verdicts],
                  "labels": [v.label for v in verdicts]}), flush=True)
"""


def test_vllm_judge_answers_as_the_hf_judge_does(instruct):
    items = [item(r, s) for r, s in zip(RESPONSES, SCENARIOS)]
    options = {"enforce_eager": True, "dtype": "float32", "max_model_len": 4096}  # vllm_env.ENGINE_ARGS as options
    proc = run_in_vllm("-c", VLLM_JUDGE, instruct, json.dumps(options), json.dumps([vars(i) for i in items]))
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(next(line for line in proc.stdout.splitlines() if line.startswith("RESULT "))[7:])
    hf = make_judge(f"local:hf:{instruct}", batch_size=1).judge(items)
    assert got["name"] == f"local:vllm:{instruct}"
    assert len(set(got["raw"])) > 1 and all(got["raw"])  # 16 generated tokens each, not one shared answer
    assert got["raw"] == [v.raw for v in hf] and got["labels"] == [v.label for v in hf]
