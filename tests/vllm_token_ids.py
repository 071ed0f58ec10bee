"""Greedy token ids of the real vLLM engine for requests the `vllm:` backend builds; run in the vLLM venv.

    python tests/vllm_token_ids.py CHECKPOINT REQUESTS.json MAX_NEW_TOKENS OUT.json

REQUESTS.json: [{"prompt": str or null, "media": [[kind, path], ...]}, ...]. OUT.json gets one list of token ids
per request. The inputs are the backend's own (`prepare`: the family's prompt and decoded media), the engine the
backend's own, started with the engine arguments the tests use; vLLM logs to stdout, hence the output file.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main() -> None:
    from vllm import SamplingParams

    from va_safetybench.models.base import GenerationRequest, GenerationSettings, Media
    from va_safetybench.models.vllm_backend import VLLMBackend, sampling_kwargs

    checkpoint, requests_file, max_new_tokens, out = sys.argv[1:5]
    requests = [
        GenerationRequest(r["prompt"], tuple(Media(kind, Path(path)) for kind, path in r["media"]))
        for r in json.loads(Path(requests_file).read_text())
    ]
    backend = VLLMBackend(checkpoint, enforce_eager=True, dtype="float32", max_model_len=4096)
    try:
        inputs = [backend.prepare(r) for r in requests]
        params = SamplingParams(**sampling_kwargs(GenerationSettings(max_new_tokens=int(max_new_tokens))))
        assert backend._engine is not None
        outputs = backend._engine.llm.generate(inputs, params, use_tqdm=False)
        Path(out).write_text(json.dumps([list(o.outputs[0].token_ids) for o in outputs]))
    finally:
        backend.close()


if __name__ == "__main__":
    main()
