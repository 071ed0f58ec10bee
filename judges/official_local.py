"""`local:hf:PATH` and `local:vllm:NAME`: the paper's judge on open weights. The official VA-SafetyBench /
MM-SafetyBench judge prompt (judges/gpt.py: the same files, the same scenario choice) goes to a local instruct model
as one user message through the model's own chat template; its answer is read exactly as the gpt judge's (our
lenient parser for the label, the official scripts' exact "unsafe" rule beside it, empty responses judged too).

- `hf:PATH`: transformers (AutoModelForCausalLM), greedy, left-padded batches (`batch_size`, `device`);
- `vllm:NAME`: vLLM's offline engine in this process (`LLM.chat`, temperature 0, one call for the whole batch);
  needs the vllm extra (`tensor_parallel_size`, `max_model_len`, `gpu_memory_utilization` as options).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, cast

from va_safetybench.errors import InputError, require_extra

from .base import PROMPTS_DIR, Judge, JudgeInput, Verdict, content_version
from .gpt import PROMPT_FILES, build_prompt, parse_answer, prompt_file
from .local import LocalJudge

PARSER_TAG = "local1"
MAX_NEW_TOKENS = 16  # the official prompt asks for one word


def _templates() -> dict[str, str]:
    return {f: (PROMPTS_DIR / f).read_text(encoding="utf-8") for f in PROMPT_FILES}


def official_prompt(templates: dict[str, str], item: JudgeInput) -> str:
    """The gpt judge's user message for an item: its scenario's official prompt with the response in place."""
    return build_prompt(templates[prompt_file(item.scenario)], item.response)


def _version(model_tag: str, template: str) -> str:
    """Changes with the official prompt files, the parser and the model's chat template."""
    prompts = content_version(PARSER_TAG, *(PROMPTS_DIR / f for f in PROMPT_FILES))
    chat = hashlib.sha256((model_tag + "\0" + template).encode()).hexdigest()[:8]
    return f"{prompts}-{chat}"


class OfficialHFJudge(LocalJudge):
    kind = "local:hf"
    max_new_tokens = MAX_NEW_TOKENS
    add_special_tokens = False  # the chat template writes the special tokens
    official_rule = True

    def __init__(self, path: str, batch_size: int = 8, device: str | None = None) -> None:
        super().__init__(path, batch_size, device)
        template = getattr(self.tokenizer, "chat_template", None)
        if not template:
            raise InputError(f"local judge: {path} has no chat template; give an instruct (chat) model")
        self.templates = _templates()
        self.version = _version("hf", template)

    def render(self, item: JudgeInput) -> str:
        message = [{"role": "user", "content": official_prompt(self.templates, item)}]
        return cast(str, self.tokenizer.apply_chat_template(message, tokenize=False, add_generation_prompt=True))

    def parse(self, text: str) -> Verdict:
        return parse_answer(text)


@dataclass(frozen=True)
class VLLMOptions:
    """--judge-args of local:vllm:NAME: the engine's options (unset ones keep vLLM's defaults)."""

    tensor_parallel_size: int | None = field(default=None, metadata={"help": "GPUs one engine spans"})
    max_model_len: int | None = field(default=None, metadata={"help": "the context the engine reserves"})
    gpu_memory_utilization: float | None = field(default=None, metadata={"help": "share of GPU memory (0-1)"})
    dtype: str | None = field(default=None, metadata={"help": "auto, bfloat16, float16, float32"})
    enforce_eager: bool | None = field(
        default=None, metadata={"help": "no graph capture or compilation (CPU vLLM compiles for minutes without it)"}
    )


class OfficialVLLMJudge(Judge):
    official_rule = True
    Options = VLLMOptions

    def __init__(self, name: str, **engine_options: Any) -> None:
        vllm = require_extra("vllm", "vllm", f"local judge vllm:{name}")
        self.name = f"local:vllm:{name}"
        self.engine = vllm.LLM(model=name, **engine_options)
        self.sampling = vllm.SamplingParams(temperature=0.0, max_tokens=MAX_NEW_TOKENS)
        template = str(getattr(self.engine.get_tokenizer(), "chat_template", "") or "")
        self.templates = _templates()
        self.version = _version("vllm", template)

    def _judge_nonempty(self, batch: list[JudgeInput]) -> list[Verdict]:
        conversations = [[{"role": "user", "content": official_prompt(self.templates, item)}] for item in batch]
        outputs = self.engine.chat(conversations, self.sampling, use_tqdm=False)
        return [parse_answer(out.outputs[0].text if out.outputs else None) for out in outputs]
