"""MMBench's GPT choice matcher: which option does a free-form answer mean, when no rule can tell?

lmms-eval's default `mmbench_en_dev` (tasks/mmbench/mmbench_evals.py `extract_answer_from_item`, commit 7a69a9a1,
OpenCompass's matcher) asks a chat model to map the answer to A-D, or E for none of them, for every rotation its
prefetch (mcq.can_infer) cannot read. Prompt: judges/prompts/mmbench_choice.txt, byte for byte upstream's
`build_prompt` template ({question} is followed by upstream's own "?"), options as upstream's `build_option_str`.
The endpoint's answer is read by the prefetch's letter forms (here) and option texts (capability/mmbench.py).
Deliberate differences: an answer that names no option, and a failed request, leave the rotation unread and so
wrong, where upstream, after three tries, draws a random letter; one request per distinct prompt at temperature 0, cached,
retried on HTTP errors only (upstream's three tries at temperature 0 ask the same question again).
Client, retries, concurrency and cache are the safety judge's (openai_chat.ChatJudge), cached in gpt-choice.sqlite.
"""

from __future__ import annotations

import re

from va_safetybench.capability.mcq import can_infer_option

from .base import PROMPTS_DIR, JudgeInput, Verdict, content_version
from .openai_chat import ChatJudge

PROMPT_FILE = "mmbench_choice.txt"
PARSER_TAG = "mmbchoice1"
_SLOT = re.compile(r"\{(question|options|prediction)\}")


def option_block(options: dict[str, str]) -> str:
    """Upstream's build_option_str: a header line (with its trailing space), then "A. text" lines."""
    return "There are several options: \n" + "".join(f"{k}. {v}\n" for k, v in options.items())


def build_prompt(template: str, question: str, options: str, prediction: str) -> str:
    """Fill all three slots in one pass: an answer containing "{question}" cannot pull text in twice."""
    values = {"question": question, "options": options, "prediction": prediction}
    return _SLOT.sub(lambda m: values[m.group(1)], template)


def parse_choice(text: str | None) -> Verdict:
    """Verdict "choice" for every answer the endpoint gave: `categories` holds the letter (A-E) a prefetch letter
    form reads, or nothing (the caller may still find an option text in `raw`); no answer at all is an error."""
    if text is None:
        return Verdict("error", "judge returned no text")
    letter = can_infer_option(text.strip())
    return Verdict("choice", text, (letter,) if letter else ())


class MMBenchChoiceJudge(ChatJudge):
    what = "gpt choice matcher"

    def __init__(self, model: str, **options) -> None:
        """`options`: as GPTJudge (base_url, api_key_env, concurrency, max_retries, timeout, backoff, cache_dir, use_cache)."""
        super().__init__(model, "gpt-choice.sqlite", **options)
        self.template = (PROMPTS_DIR / PROMPT_FILE).read_text(encoding="utf-8")
        self.name = f"mmbench-gpt:{model}"
        self.version = content_version(PARSER_TAG, PROMPTS_DIR / PROMPT_FILE)

    def prompt_for(self, item: JudgeInput) -> str:
        """item.question: the question; item.prompt: option_block(...); item.response: the model's answer."""
        return build_prompt(self.template, item.question or "", item.prompt or "", item.response)

    def parse(self, text: str | None) -> Verdict:
        return parse_choice(text)
