"""Our tasks run with lm-eval's own model classes, as an lm-eval user runs them, on tiny checkpoints saved by path:
`lm_eval run --model hf-multimodal` (tiny LLaVA-OneVision) on an image safety task and MME; `va-bench lm-eval run`
with `hf-multimodal` on text-only and image tasks together and with `hf-audiolm-qwen` (tiny Qwen2-Audio) on
text-only and audio tasks and LibriSpeech; lm-eval's text class `hf` (tiny Qwen2) on the text-only tasks.
Their results JSON carries our ASR; `va-bench judge` on the same logged responses gives the same ASR, and our own
`va-bench` class scoring the same responses gives the same capability figures. A video task, or text-only and
media tasks together, given to an lm-eval class that cannot take them stops before generation with one line;
our own `va-bench` class still reads the files (never the decoded pixels)."""

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

from tests.capability_data import write_librispeech_parquet, write_mme, write_videomme, write_xstest
from tests.conftest import REPO, run_cli
from tests.family_checkpoints import save_family, save_text_lm
from tests.harness_support import ONE_THREAD_ENV, build_small_bench
from va_safetybench.errors import InputError
from va_safetybench.harness.media_inputs import (
    BenchAudio,
    BenchImage,
    EncodedAudio,
    EncodedImage,
    strip_placeholders,
    with_placeholders,
)
from va_safetybench.taskspec import TASKS as SAFETY_TASKS

TOKENS = 8
ENV = {**ONE_THREAD_ENV, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
METRICS = ("asr", "asr_macro", "asr_official", "asr_official_macro")
PLACEHOLDER = {"visual": "<image>", "audio": "<audio>"}
DOCUMENTS = {"mme": 6}  # capability_data's MME copy: 3 images x 2 questions; the others hold 2 documents
# the runs: (model class, checkpoint, tasks, through `va-bench lm-eval`)
RUNS = {
    "image_run": ("hf-multimodal", "llava_onevision", ("mmsb_typo", "mme"), False),
    "mixed_image_run": ("hf-multimodal", "llava_onevision", ("mmsb_text_only", "mmsb_typo", "xstest_safe"), True),
    # lm-eval 0.4.13 cannot load its own hf-audiolm-qwen (see harness/lm_eval_audiolm.py): va-bench lm-eval repairs it
    "audio_run": (
        "hf-audiolm-qwen",
        "qwen2_audio",
        ("va_audio_text_only", "va_audio_kpt", "librispeech_test_clean"),
        True,
    ),
}


@pytest.fixture(scope="module")
def bench(tmp_path_factory) -> Path:
    tasks = "mmsb_text_only,mmsb_typo,va_audio_text_only,va_audio_kpt,va_video_typo"
    return build_small_bench(tmp_path_factory.mktemp("bench") / "bench", tasks=tasks)


@pytest.fixture(scope="module")
def metadata(bench, tmp_path_factory) -> dict[str, str]:
    """lm-eval task metadata: the bench, and local copies of the capability data sets in their hub formats."""
    root = tmp_path_factory.mktemp("capability")
    write_mme(root / "mme")
    (root / "scratch").mkdir()
    write_librispeech_parquet(root / "librispeech", root / "scratch")  # FLAC bytes inside parquet, as the hub's
    write_xstest(root / "xstest.csv")
    return {
        "bench": str(bench),
        "mme_path": str(root / "mme"),
        "librispeech_path": str(root / "librispeech"),
        "xstest_path": str(root / "xstest.csv"),
    }


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[str, Path]:
    from va_safetybench.models.tiny import save_tiny

    root = tmp_path_factory.mktemp("checkpoints")
    save_tiny("qwen2-audio", str(root / "qwen2_audio"))
    return {
        "llava_onevision": save_family("llava_onevision", root / "llava_onevision"),
        "qwen2_audio": root / "qwen2_audio",
        "qwen2_text": save_text_lm(root / "qwen2_text"),
    }


def _lm_eval(*args: str, out: Path | None = None, via_va_bench: bool = False) -> subprocess.CompletedProcess:
    """`python -m lm_eval ARGS` (or `va-bench lm-eval ARGS`) from the repository, in a process of its own."""
    prefix = ["-m", "va_safetybench.cli", "lm-eval"] if via_va_bench else ["-m", "lm_eval"]
    argv = [sys.executable, *prefix, *args, "--gen_kwargs", f"max_gen_toks={TOKENS}"]
    if out is not None:
        argv += ["--output_path", str(out), "--log_samples"]
    return subprocess.run(argv, cwd=REPO, env={**os.environ, **ENV}, capture_output=True, text=True, timeout=900)


def _lm_eval_run(
    model: str, pretrained: Path, tasks: tuple[str, ...], metadata: dict, **kwargs
) -> subprocess.CompletedProcess:
    return _lm_eval(
        "run",
        "--model",
        model,
        "--model_args",
        f"pretrained={pretrained},dtype=float32",
        "--tasks",
        ",".join(tasks),
        "--include_path",
        str(REPO / "tasks"),
        "--metadata",
        json.dumps(metadata),
        "--apply_chat_template",
        "--device",
        "cpu",
        **kwargs,
    )


@pytest.fixture(scope="module")
def runs(checkpoints, metadata, tmp_path_factory) -> dict:
    """Each run made once, when a test first asks for it."""
    made: dict[str, dict] = {}

    def get(name: str) -> dict:
        if name not in made:
            model, checkpoint, tasks, via_va_bench = RUNS[name]
            out = tmp_path_factory.mktemp(name)
            done = _lm_eval_run(model, checkpoints[checkpoint], tasks, metadata, out=out, via_va_bench=via_va_bench)
            assert done.returncode == 0, done.stderr[-3000:]
            results = json.loads(next(out.rglob("results_*.json")).read_text())
            samples = {t: _read_samples(next(out.rglob(f"samples_{t}_*.jsonl"))) for t in tasks}
            made[name] = {"results": results["results"], "samples": samples, "out": out}
        return made[name]

    return get


def _read_samples(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.slow
@pytest.mark.parametrize("run", list(RUNS))
def test_lm_eval_results_hold_our_scores(run, runs):
    """Every safety task (text-only ones too) has our ASR; every capability task its own metrics."""
    made = runs(run)
    for task in RUNS[run][2]:
        figures = made["results"][task]
        if task in SAFETY_TASKS:
            for metric in METRICS:
                assert isinstance(figures.get(f"{metric},judge"), float), (task, metric, figures)
        else:
            assert [k for k in figures if k.endswith(",none") and "stderr" not in k], (task, figures)
        assert len(made["samples"][task]) == DOCUMENTS.get(task, 2), task  # the bench: 2 scenarios x 1 item


@pytest.mark.slow
@pytest.mark.parametrize("run", list(RUNS))
def test_lm_eval_class_got_the_medium_and_its_placeholder(run, runs):
    """The prompt lm-eval's class built holds the placeholder where it puts the medium's tokens, and the request
    carried the medium itself (lm-eval logs an image by its hash, our audio by its file or bytes); a text-only
    task's requests carry neither."""
    for task, samples in runs(run)["samples"].items():
        for sample in samples:
            args = list(sample["arguments"]["gen_args_0"].values())
            context, media = args[0], (args[2] if len(args) > 2 else {})
            if not media:
                assert "<image>" not in context and "<audio>" not in context, task
                continue
            ((medium, entries),) = media.items()
            assert PLACEHOLDER[medium] in context and len(entries) == 1, (task, context)
            prompt = sample["doc"].get("prompt") or sample["doc"].get("question") or ""
            assert prompt.split("\n")[0] in context  # (the chat template may part them)
            if task in SAFETY_TASKS and medium == "audio":
                assert sample["doc"]["media"] in entries[0]


@pytest.mark.slow
@pytest.mark.parametrize("run", list(RUNS))
def test_va_bench_judge_on_the_same_responses_gives_the_same_asr(run, runs):
    """The run judged with the tasks' default judge; `va-bench judge` with that judge gives the same figures."""
    from judges.registry import DEFAULT_JUDGE
    from judges.runs import judge_slug

    made = runs(run)
    done = run_cli("judge", str(made["out"]), "--judge", DEFAULT_JUDGE)
    assert done.returncode == 0, done.stderr
    summary = json.loads((made["out"] / f"summary-{judge_slug(DEFAULT_JUDGE)}.json").read_text())
    assert summary["rejudged_from"] == "lm-eval sample logs" and summary["model"].startswith("lm-eval:")
    safety = [t for t in RUNS[run][2] if t in SAFETY_TASKS]
    assert sorted(summary["tasks"]) == sorted(safety)
    for task in safety:
        for metric in METRICS:
            assert summary["tasks"][task][metric] == pytest.approx(made["results"][task][f"{metric},judge"]), metric


@pytest.fixture(scope="module")
def our_class(tmp_path_factory):
    """Our `va-bench` class on a model that takes every medium, with a response cache of its own."""
    from va_safetybench.harness.lm_eval_models import VABenchLM

    cache = tmp_path_factory.mktemp("replay") / "cache.jsonl"
    lm = VABenchLM(model="tiny:qwen2.5-omni", cache=str(cache), max_new_tokens=TOKENS)
    yield lm
    lm.close()


@pytest.mark.slow
@pytest.mark.parametrize(
    "run, task", [("image_run", "mme"), ("audio_run", "librispeech_test_clean"), ("mixed_image_run", "xstest_safe")]
)
def test_our_class_scores_the_same_responses_the_same(run, task, runs, our_class, metadata, tmp_path):
    """The capability figures do not depend on the class that generated the responses: `va-bench eval`'s capability
    path (capability.run) with our `va-bench` class, whose response cache holds what lm-eval's class answered
    (nothing is generated), gives the figures of lm-eval's results JSON, document by document."""
    from lm_eval.tasks import TaskManager

    from va_safetybench.capability.run import run_capability
    from va_safetybench.harness.docs import tasks_dir

    made = runs(run)
    loaded = TaskManager(include_path=str(tasks_dir()), include_defaults=False, metadata=metadata).load([task])
    requests = loaded["tasks"][task]
    requests.set_config(key="generation_kwargs", value={"max_gen_toks": TOKENS}, update=True)
    requests.build_all_requests(limit=None, rank=0, world_size=1)
    answered = {s["doc_id"]: s["resps"][0][0] for s in made["samples"][task]}
    assert our_class.cache is not None and len(answered) == len(requests.instances)
    our_class.cache.append(
        [{"key": our_class._prepare(0, i).key, "response": answered[i.doc_id]} for i in requests.instances]
    )
    generated = our_class.generated
    bench = Path(metadata["bench"])
    ours = run_capability(our_class, [task], tmp_path, bench, max_new_tokens=TOKENS, metadata=metadata)
    assert our_class.generated == generated  # every response came from lm-eval's class
    theirs = {k.split(",")[0]: v for k, v in made["results"][task].items() if k.endswith(",none") and "stderr" not in k}
    if task == "xstest_safe":
        rates = ours["over_refusal"]["text"]
        assert (rates["keyword"], rates["strmatch"]) == (theirs["refusal_rate"], theirs["strmatch_refusal_rate"])
    else:
        assert ours["capability"][task] == pytest.approx(theirs)
    our_samples = {s["doc_id"]: s for s in _read_samples(tmp_path / "capability" / f"samples_{task}.jsonl")}
    for sample in made["samples"][task]:  # each document's own values, not only their aggregate
        mine = our_samples[sample["doc_id"]]
        assert {k: mine[k] for k in theirs} == {k: sample[k] for k in theirs}


@pytest.mark.slow
@pytest.mark.parametrize(
    "tasks, refusal",
    [
        (
            "mmsb_typo,va_video_typo",
            "task va_video_typo gives the model video, which lm-eval model class 'hf-multimodal'",
        ),
        (
            "xstest_safe,mme",
            "task mme gives the model image and task xstest_safe text alone, which lm-eval model class",
        ),
    ],
)
def test_plain_lm_eval_refuses_in_one_line_before_generation(tasks, refusal, checkpoints, metadata):
    """What lm-eval's hf-multimodal cannot take (video; text-only and image tasks in one run) stops the CLI with
    one line naming the task and the remedy, before anything is generated (capability tasks as safety ones)."""
    done = _lm_eval(
        "run",
        "--model",
        "hf-multimodal",
        "--model_args",
        f"pretrained={checkpoints['llava_onevision']},dtype=float32",
        "--tasks",
        tasks,
        "--include_path",
        str(REPO / "tasks"),
        "--metadata",
        json.dumps(metadata),
        "--device",
        "cpu",
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"lm_eval: error: {refusal}"), last
    assert "--model va-bench" in last or "`va-bench lm-eval`" in last
    assert "Running generate_until" not in done.stderr + done.stdout  # refused while the requests were built


@pytest.fixture(scope="module")
def lm_eval_multimodal(checkpoints):
    """lm-eval's own `hf-multimodal` class, as plain `lm_eval` makes it (not repaired), in this process."""
    from lm_eval.models.hf_vlms import HFMultimodalLM

    return HFMultimodalLM(pretrained=str(checkpoints["llava_onevision"]), dtype="float32", device="cpu")


def _evaluate(model, tasks: list[str], metadata: dict, **kwargs) -> dict:
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    from va_safetybench.harness.docs import tasks_dir

    manager = TaskManager(include_path=str(tasks_dir()), include_defaults=False, metadata=metadata)
    return simple_evaluate(
        model=model, tasks=tasks, task_manager=manager, gen_kwargs={"max_gen_toks": TOKENS}, bootstrap_iters=0, **kwargs
    )


@pytest.mark.slow
def test_text_only_and_image_tasks_together_are_refused_for_lm_evals_class(lm_eval_multimodal, metadata):
    """lm-eval's own hf-multimodal takes one kind of request per run: a run of both stops while its requests are
    built, naming what to do (`va-bench lm-eval`'s class takes both: mixed_image_run)."""
    with pytest.raises(InputError) as refused:
        _evaluate(lm_eval_multimodal, ["mmsb_text_only", "mme"], metadata)
    message = str(refused.value)
    assert message.startswith("task mme gives the model image and task mmsb_text_only text alone")
    assert "'hf-multimodal'" in message and "`va-bench lm-eval`" in message and "\n" not in message


@pytest.mark.slow
def test_videomme_is_refused_for_a_class_without_video(lm_eval_multimodal, metadata, tmp_path):
    write_videomme(tmp_path / "videomme")
    with pytest.raises(InputError, match="^task videomme gives the model video, which lm-eval model class 'hf-multi"):
        _evaluate(lm_eval_multimodal, ["videomme"], {**metadata, "videomme_path": str(tmp_path / "videomme")})


@pytest.mark.slow
def test_text_only_tasks_run_with_lm_evals_own_classes(lm_eval_multimodal, checkpoints, metadata):
    """A text-only run: lm-eval's hf-multimodal (its text path) and its text class `hf` (tiny Qwen2 by path, chat
    template applied) answer every document, and the results hold our ASR and the over-refusal rates."""
    tasks = ["mmsb_text_only", "va_audio_text_only", "xstest_safe"]
    text_model = f"pretrained={checkpoints['qwen2_text']},dtype=float32"
    for model, model_args in ((lm_eval_multimodal, None), ("hf", text_model)):
        made = _evaluate(model, tasks, metadata, model_args=model_args, device="cpu", apply_chat_template=True)
        for task in tasks:
            assert len(made["samples"][task]) == 2, (model, task)
            if task in SAFETY_TASKS:
                assert all(isinstance(made["results"][task][f"{m},judge"], float) for m in METRICS), (model, task)
        assert isinstance(made["results"]["xstest_safe"]["strmatch_refusal_rate,none"], float)


@pytest.mark.slow
def test_a_video_task_is_refused_for_hf_audiolm_qwen(checkpoints, metadata):
    """The repaired hf-audiolm-qwen, as `va-bench lm-eval` registers it, takes no video: refused before generation."""
    from lm_eval.api.registry import get_model

    from va_safetybench.harness import lm_eval_audiolm

    lm_eval_audiolm.install()
    model = get_model("hf-audiolm-qwen")(pretrained=str(checkpoints["qwen2_audio"]), dtype="float32", device="cpu")
    with pytest.raises(InputError, match="^task va_video_typo gives the model video, which lm-eval model class 'hf-au"):
        _evaluate(model, ["va_audio_kpt", "va_video_typo"], metadata)


def test_one_kind_classes_are_known_by_name():
    """The checks know lm-eval's one-kind multimodal classes by name (vllm-vlm's module imports vllm and ray, absent
    here), and none of lm-eval's classes takes video; the classes `va-bench lm-eval` registers take both kinds."""
    from lm_eval.models.hf_vlms import HFMultimodalLM

    from va_safetybench.harness import lm_eval_audiolm, lm_eval_mixed
    from va_safetybench.harness.lm_eval_models import VABenchLM

    vllm_vlm = type("VLLM_VLM", (), {"__module__": "lm_eval.models.vllm_vlms"})
    audiolm = lm_eval_audiolm._repaired_class()
    for cls in (HFMultimodalLM, audiolm.LM_EVAL_CLASS, vllm_vlm, type("Derived", (vllm_vlm,), {})):
        assert lm_eval_mixed.takes_one_kind(cls) and not getattr(cls, "ACCEPTS_VIDEO", False), cls
    for cls in (lm_eval_mixed._text_and_media_multimodal(), audiolm):
        assert not lm_eval_mixed.takes_one_kind(cls) and not getattr(cls, "ACCEPTS_VIDEO", False), cls
    assert not lm_eval_mixed.takes_one_kind(VABenchLM) and VABenchLM.ACCEPTS_VIDEO


def test_lm_evals_own_modules_still_import_after_va_bench_repoints_their_aliases():
    """`va-bench lm-eval` repoints two of lm-eval's aliases in its process; lm-eval's own modules imported after
    that (by a user's code, a plugin, a test) import as before instead of refusing our entry, and the aliases keep
    naming the classes that take both kinds; a refusal for lm-eval's own class still names it by lm-eval's alias.
    In a fresh interpreter: the repointing lasts for its process."""
    code = (
        "from va_safetybench.harness import lm_eval_audiolm, lm_eval_mixed, model_checks\n"
        "lm_eval_audiolm.install(); lm_eval_mixed.install()\n"
        "import lm_eval.models.hf_audiolm, lm_eval.models.hf_vlms\n"
        "from lm_eval.api.registry import get_model\n"
        "print(all(get_model(a).TAKES_TEXT_AND_MEDIA for a in ('hf-multimodal', 'hf-audiolm-qwen')))\n"
        "print(model_checks._alias(lm_eval.models.hf_vlms.HFMultimodalLM))\n"
        "print(model_checks._alias(lm_eval.models.hf_audiolm.HFAUDIOLMQWEN))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["True", "hf-multimodal", "hf-audiolm-qwen"]


def test_our_class_reads_the_files_and_the_official_prompt(bench, metadata):
    """`va-bench` gets the same objects as lm-eval's classes and sends our backends the verified file (a bench
    file, or a capability data set's encoded bytes as they are) and the benchmark's prompt (placeholders dropped),
    without decoding the media."""
    from lm_eval.tasks import TaskManager

    from va_safetybench.capability import librispeech, mme
    from va_safetybench.harness.docs import tasks_dir
    from va_safetybench.harness.lm_eval_models import VABenchLM

    manager = TaskManager(include_path=str(tasks_dir()), include_defaults=False, metadata=metadata)
    lm = VABenchLM(model="tiny:llava")
    prompts = {"mme": mme.prompt, "librispeech_test_clean": librispeech.prompt}
    for name in ("mmsb_typo", "va_audio_kpt", "va_video_typo", "mme", "librispeech_test_clean"):
        task = manager.load([name])["tasks"][name]
        task.build_all_requests(limit=None, rank=0, world_size=1)
        for instance in task.instances:
            prepared = lm._prepare(0, instance)
            (medium,) = prepared.request.media
            if name in prompts:
                assert prepared.request.prompt == prompts[name](instance.doc)
                (given,) = instance.args[2].get("visual") or instance.args[2]["audio"]
                assert isinstance(given, (EncodedImage, EncodedAudio)) and medium.path.read_bytes() == given.data
            else:
                assert prepared.request.prompt == instance.doc["prompt"]
                assert str(medium.path) == instance.doc["media"]
            for image in instance.args[2].get("visual", []):
                assert not isinstance(image, Image.Image) or image._im is None  # never decoded for our class
            for audio in instance.args[2].get("audio", []):
                assert audio._array is None
    lm.close()


def test_bench_image_decodes_on_first_use_and_pickles_as_its_file(tmp_path):
    path = tmp_path / "a.jpg"
    Image.fromarray(np.arange(48 * 32 * 3, dtype=np.uint8).reshape(32, 48, 3)).save(path)
    image = BenchImage(path)
    assert image.size == (48, 32) and image.mode == "RGB" and image._im is None
    with Image.open(path) as original:
        assert np.array_equal(np.asarray(image.convert("RGB")), np.asarray(original.convert("RGB")))
    again = pickle.loads(pickle.dumps(BenchImage(path)))
    assert again.path == path and again._im is None and again.tobytes() == image.tobytes()


def test_encoded_image_is_rgb_decoded_on_first_use(tmp_path):
    """A data set's palette PNG: RGB (as lm-eval's image classes take it) before and after decoding."""
    path = tmp_path / "p.png"
    Image.fromarray(np.arange(24 * 16, dtype=np.uint8).reshape(16, 24) % 7).convert("P").save(path)
    image = EncodedImage(path.read_bytes())
    assert (image.mode, image.size, image.suffix, image._im) == ("RGB", (24, 16), ".png", None)
    with Image.open(path) as original:
        assert np.array_equal(np.asarray(image), np.asarray(original.convert("RGB")))
    assert pickle.loads(pickle.dumps(image)).tobytes() == image.tobytes()


def test_bench_audio_is_lm_evals_audio_dict_decoded_on_demand(tmp_path):
    import soundfile

    path = tmp_path / "a.wav"
    soundfile.write(path, np.sin(np.arange(8000) / 5).astype(np.float32), 8000)
    audio = BenchAudio(path, 16000)
    assert audio._array is None and "array" in repr(list(audio)) and str(path) in repr(audio)
    assert audio["sampling_rate"] == 16000 and audio["array"].shape == (16000,)  # resampled to the rate asked
    assert pickle.loads(pickle.dumps(audio))._array is None
    encoded = EncodedAudio(path.read_bytes(), 16000, name="clip 1")
    assert sorted(encoded) == ["array", "sampling_rate"] and encoded.suffix == ".wav" and "clip 1" in repr(encoded)
    np.testing.assert_array_equal(encoded["array"], audio["array"])
    with pytest.raises(Exception, match="cannot read audio clip 2"):  # errors name the item, not a buffer
        EncodedAudio(b"not audio", 16000, name="clip 2")["array"]


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
