"""Our tasks run with lm-eval's own multimodal model classes, as an lm-eval user runs them: `lm_eval run --model
hf-multimodal` on tiny LLaVA-OneVision and `hf-audiolm-qwen` on tiny Qwen2-Audio, each saved by path and loaded by
lm-eval's class; their results JSON carries our ASR, and `va-bench judge` on the same logged responses gives the
same figures. A video task given to a class without video input stops in one line before generation, and our own
`va-bench` class still reads the bench's files (never the decoded pixels)."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import REPO, run_cli
from tests.family_checkpoints import save_family
from tests.harness_support import ONE_THREAD_ENV, build_small_bench
from va_safetybench.harness.media_inputs import BenchAudio, BenchImage, strip_placeholders, with_placeholders

TOKENS = 8
ENV = {**ONE_THREAD_ENV, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
METRICS = ("asr", "asr_macro", "asr_official", "asr_official_macro")


@pytest.fixture(scope="module")
def bench(tmp_path_factory) -> Path:
    return build_small_bench(tmp_path_factory.mktemp("bench") / "bench", tasks="mmsb_typo,va_audio_kpt,va_video_typo")


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[str, Path]:
    from va_safetybench.models.tiny import save_tiny

    root = tmp_path_factory.mktemp("checkpoints")
    save_tiny("qwen2-audio", str(root / "qwen2_audio"))
    return {
        "llava_onevision": save_family("llava_onevision", root / "llava_onevision"),
        "qwen2_audio": root / "qwen2_audio",
    }


def _lm_eval(*args: str, out: Path | None = None, via_va_bench: bool = False) -> subprocess.CompletedProcess:
    """`python -m lm_eval ARGS` (or `va-bench lm-eval ARGS`) from the repository, in a process of its own."""
    prefix = ["-m", "va_safetybench.cli", "lm-eval"] if via_va_bench else ["-m", "lm_eval"]
    argv = [sys.executable, *prefix, *args, "--gen_kwargs", f"max_gen_toks={TOKENS}"]
    if out is not None:
        argv += ["--output_path", str(out), "--log_samples"]
    return subprocess.run(argv, cwd=REPO, env={**os.environ, **ENV}, capture_output=True, text=True, timeout=900)


def _run(model: str, pretrained: Path, task: str, bench: Path, out: Path, via_va_bench: bool = False) -> dict:
    done = _lm_eval(
        "run",
        "--model",
        model,
        "--model_args",
        f"pretrained={pretrained},dtype=float32",
        "--tasks",
        task,
        "--include_path",
        str(REPO / "tasks"),
        "--metadata",
        json.dumps({"bench": str(bench)}),
        "--apply_chat_template",
        "--device",
        "cpu",
        out=out,
        via_va_bench=via_va_bench,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(next(out.rglob("results_*.json")).read_text())
    samples = [json.loads(line) for line in next(out.rglob(f"samples_{task}_*.jsonl")).read_text().splitlines()]
    return {"results": results["results"][task], "samples": samples, "out": out}


@pytest.fixture(scope="module")
def image_run(bench, checkpoints, tmp_path_factory) -> dict:
    return _run("hf-multimodal", checkpoints["llava_onevision"], "mmsb_typo", bench, tmp_path_factory.mktemp("hfmm"))


@pytest.fixture(scope="module")
def audio_run(bench, checkpoints, tmp_path_factory) -> dict:
    # lm-eval 0.4.13 cannot load its own hf-audiolm-qwen (see harness/lm_eval_audiolm.py): va-bench lm-eval repairs it
    out = tmp_path_factory.mktemp("audiolm")
    return _run("hf-audiolm-qwen", checkpoints["qwen2_audio"], "va_audio_kpt", bench, out, via_va_bench=True)


@pytest.mark.slow
@pytest.mark.parametrize("run", ["image_run", "audio_run"])
def test_lm_eval_results_hold_our_asr(run, request):
    results = request.getfixturevalue(run)["results"]
    for metric in METRICS:
        assert isinstance(results.get(f"{metric},judge"), float), (metric, results)


@pytest.mark.slow
@pytest.mark.parametrize(
    "run, placeholder, medium", [("image_run", "<image>", "visual"), ("audio_run", "<audio>", "audio")]
)
def test_lm_eval_class_got_the_medium_and_its_placeholder(run, placeholder, medium, request):
    """The prompt lm-eval's class built holds the placeholder where it puts the medium's tokens, and the request
    carried the medium itself (lm-eval logs an image by its hash, our audio by its file)."""
    for sample in request.getfixturevalue(run)["samples"]:
        context, _, media = sample["arguments"]["gen_args_0"].values()
        assert placeholder in context and sample["doc"]["prompt"] in context  # (the chat template may part them)
        assert len(media[medium]) == 1
        if medium == "audio":
            assert sample["doc"]["media"] in media["audio"][0]


@pytest.mark.slow
@pytest.mark.parametrize("run", ["image_run", "audio_run"])
def test_va_bench_judge_on_the_same_responses_gives_the_same_asr(run, request):
    made = request.getfixturevalue(run)
    done = run_cli("judge", str(made["out"]), "--judge", "keyword")
    assert done.returncode == 0, done.stderr
    summary = json.loads((made["out"] / "summary-keyword.json").read_text())
    (task,) = summary["tasks"]
    assert summary["rejudged_from"] == "lm-eval sample logs" and summary["model"].startswith("lm-eval:")
    for metric in METRICS:
        assert summary["tasks"][task][metric] == pytest.approx(made["results"][f"{metric},judge"]), metric


@pytest.mark.slow
def test_a_video_task_is_refused_in_one_line_before_generation(bench, checkpoints):
    done = _lm_eval(
        "run",
        "--model",
        "hf-multimodal",
        "--model_args",
        f"pretrained={checkpoints['llava_onevision']},dtype=float32",
        "--tasks",
        "mmsb_typo,va_video_typo",
        "--include_path",
        str(REPO / "tasks"),
        "--metadata",
        json.dumps({"bench": str(bench)}),
        "--device",
        "cpu",
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("lm_eval: error: task va_video_typo gives the model video")
    assert "'hf-multimodal'" in last and "--model va-bench" in last
    assert "Running generate_until" not in done.stderr + done.stdout  # refused while the requests were built


def test_our_class_reads_the_bench_files_and_the_official_prompt(bench):
    """`va-bench` gets the same objects as lm-eval's classes and sends our backends the verified file and the
    official prompt (placeholders dropped), without decoding the image."""
    from lm_eval.tasks import TaskManager

    from va_safetybench.harness.docs import tasks_dir
    from va_safetybench.harness.lm_eval_models import VABenchLM

    manager = TaskManager(include_path=str(tasks_dir()), include_defaults=False, metadata={"bench": str(bench)})
    lm = VABenchLM(model="tiny:llava")
    for name in ("mmsb_typo", "va_audio_kpt", "va_video_typo"):
        task = manager.load([name])["tasks"][name]
        task.build_all_requests(limit=None, rank=0, world_size=1)
        for instance in task.instances:
            prepared = lm._prepare(0, instance)
            assert prepared.request.prompt == instance.doc["prompt"]
            assert [str(m.path) for m in prepared.request.media] == [instance.doc["media"]]
            for image in instance.args[2].get("visual", []):
                assert not isinstance(image, BenchImage) or image._im is None  # never decoded for our class


def test_bench_image_decodes_on_first_use_and_pickles_as_its_file(tmp_path):
    path = tmp_path / "a.jpg"
    Image.fromarray(np.arange(48 * 32 * 3, dtype=np.uint8).reshape(32, 48, 3)).save(path)
    image = BenchImage(path)
    assert image.size == (48, 32) and image.mode == "RGB" and image._im is None
    with Image.open(path) as original:
        assert np.array_equal(np.asarray(image.convert("RGB")), np.asarray(original.convert("RGB")))
    again = pickle.loads(pickle.dumps(BenchImage(path)))
    assert again.path == path and again._im is None and again.tobytes() == image.tobytes()


def test_bench_audio_is_lm_evals_audio_dict_decoded_on_demand(tmp_path):
    import soundfile

    path = tmp_path / "a.wav"
    soundfile.write(path, np.sin(np.arange(8000) / 5).astype(np.float32), 8000)
    audio = BenchAudio(path, 16000)
    assert audio._array is None and "array" in repr(list(audio)) and str(path) in repr(audio)
    assert audio["sampling_rate"] == 16000 and audio["array"].shape == (16000,)  # resampled to the rate asked
    assert pickle.loads(pickle.dumps(audio))._array is None


def test_placeholders_round_trip_only_where_they_were_put():
    assert strip_placeholders(with_placeholders("List steps.", ["image"]), ["image"]) == "List steps."
    assert with_placeholders("", ["audio"]) == "<audio>" and strip_placeholders("<audio>", ["audio"]) == ""
    assert with_placeholders("Text", ["video"]) == "Text"
    assert strip_placeholders("a <image> in the middle", ["image"]) == "a <image> in the middle"


def test_placeholders_are_lm_evals_own():
    from lm_eval.models.hf_vlms import DEFAULT_IMAGE_PLACEHOLDER  # vllm-vlm's is the same (it imports vllm)

    from va_safetybench.harness import lm_eval_audiolm

    lm_eval_audiolm.install()
    lm_eval_audiolm._repaired_class()  # imports lm-eval's hf_audiolm module, which lm-eval 0.4.13 cannot import first
    from lm_eval.models.hf_audiolm import DEFAULT_AUDIO_PLACEHOLDERS

    assert with_placeholders("", ["image", "audio"]) == DEFAULT_IMAGE_PLACEHOLDER + DEFAULT_AUDIO_PLACEHOLDERS[0]
