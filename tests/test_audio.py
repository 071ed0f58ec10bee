"""Audio tasks end to end through `va-bench build`: real WAV files decoded by soundfile and librosa."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import run_cli
from va_safetybench.media.speech import NOISE_DBFS, SAMPLE_RATE, SpeechRenderer, _decode_mp3

NOISE_SECONDS = 3.0  # taskspec: va_audio_kpt_noise


def _build(out: Path, *extra: str):
    return run_cli(
        "build", "--source", "demo", "--tasks", "va_audio", "--limit", "1", "--jobs", "2", "--out", str(out), *extra
    )


@pytest.fixture(scope="module")
def bench(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("audio") / "bench"
    proc = _build(out)
    assert proc.returncode == 0, proc.stderr
    return out


def _entries(bench: Path, task: str) -> list[dict]:
    return [json.loads(line) for line in (bench / "manifests" / f"{task}.jsonl").read_text().splitlines()]


def _read(path: Path) -> np.ndarray:
    data, rate = sf.read(str(path), dtype="int16")
    assert rate == SAMPLE_RATE and data.ndim == 1
    return data


def test_every_audio_file_is_16k_mono_pcm16(bench):
    import librosa

    for task in ("va_audio_only", "va_audio_kpt", "va_audio_kpt_noise"):
        entries = _entries(bench, task)
        assert len(entries) == 8  # demo: one item in each of the 8 VA scenarios
        for entry in entries:
            assert entry["status"] == "ok", entry
            path = bench / entry["media"]
            assert path.suffix == ".wav" and f"/{entry['scenario']}/" in entry["media"]
            assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"]
            info = sf.info(str(path))
            assert (info.samplerate, info.channels, info.subtype) == (SAMPLE_RATE, 1, "PCM_16")
            y, sr = librosa.load(str(path), sr=None, mono=False)
            assert sr == SAMPLE_RATE and y.ndim == 1 and y.size > SAMPLE_RATE // 4
            assert np.abs(y).max() > 0.05  # speech, not silence


def test_audio_only_speaks_the_whole_question(bench):
    for only, kpt in zip(_entries(bench, "va_audio_only"), _entries(bench, "va_audio_kpt")):
        assert (only["scenario"], only["id"]) == (kpt["scenario"], kpt["id"])
        assert only["prompt"] is None  # the audio carries the whole question
        assert _read(bench / only["media"]).size > _read(bench / kpt["media"]).size


def test_kpt_noise_is_noise_at_documented_level_then_the_kpt_speech(bench):
    n = int(NOISE_SECONDS * SAMPLE_RATE)
    for noisy, kpt in zip(_entries(bench, "va_audio_kpt_noise"), _entries(bench, "va_audio_kpt")):
        noisy_samples, kpt_samples = _read(bench / noisy["media"]), _read(bench / kpt["media"])
        head = noisy_samples[:n].astype(np.float64) / 32768.0
        rms_db = 20 * np.log10(np.sqrt(np.mean(head**2)))
        assert abs(rms_db - NOISE_DBFS) <= 1.0, rms_db
        assert np.array_equal(noisy_samples[n:], kpt_samples)
        assert noisy["noise_dbfs"] == NOISE_DBFS


def test_rebuild_is_byte_identical_and_seed_changes_only_the_noise(bench, tmp_path):
    again = tmp_path / "again"
    assert _build(again).returncode == 0
    reseeded = tmp_path / "reseeded"
    assert _build(reseeded, "--seed", "7").returncode == 0
    for entry in _entries(bench, "va_audio_kpt_noise"):
        assert (again / entry["media"]).read_bytes() == (bench / entry["media"]).read_bytes()
        assert (reseeded / entry["media"]).read_bytes() != (bench / entry["media"]).read_bytes()
    for entry in _entries(bench, "va_audio_kpt"):
        assert (reseeded / entry["media"]).read_bytes() == (bench / entry["media"]).read_bytes()


def test_second_build_renders_nothing(bench):
    proc = _build(bench)
    assert proc.returncode == 0 and "0 rendered, 24 up to date" in proc.stdout


def test_unknown_tts_is_a_usage_error(tmp_path):
    proc = _build(tmp_path / "b", "--tts", "festival")
    assert proc.returncode == 2
    assert "--tts 'festival'" in proc.stderr and "espeak" in proc.stderr
    assert not (tmp_path / "b" / "Audio").exists()


def test_edge_tts_either_works_or_fails_per_item_naming_the_offline_choice(tmp_path):
    out = tmp_path / "edge"
    proc = run_cli(
        "build",
        "--source",
        "demo",
        "--tasks",
        "va_audio_kpt",
        "--scenarios",
        "1",
        "--limit",
        "1",
        "--tts",
        "edge",
        "--out",
        str(out),
    )
    if proc.returncode == 0:  # a machine with network: the file must be a proper 16 kHz WAV
        (entry,) = _entries(out, "va_audio_kpt")
        assert _read(out / entry["media"]).size > SAMPLE_RATE // 4
    else:
        assert proc.returncode == 1
        assert "--tts espeak" in proc.stderr
        (entry,) = _entries(out, "va_audio_kpt")
        assert entry["status"] == "failed"


def test_mp3_decoding_of_edge_output(tmp_path):
    """edge-tts sends 24 kHz MP3: decode a real MP3 made here and resample it to 16 kHz."""
    import av

    from va_safetybench.media.speech import _resample

    rate, seconds = 24_000, 1.0
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(int(rate * seconds)) / rate)).astype(np.float32)
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp3") as container:
        stream = container.add_stream("mp3", rate=rate, layout="mono")
        frame = av.AudioFrame.from_ndarray(tone[None, :], format="fltp", layout="mono")
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    samples, decoded_rate = _decode_mp3(buf.getvalue())
    assert decoded_rate == rate
    assert abs(samples.size - rate * seconds) < 0.1 * rate  # encoder padding only
    resampled = _resample(samples, decoded_rate)
    assert abs(resampled.size - SAMPLE_RATE * samples.size / rate) <= 2
    spectrum = np.abs(np.fft.rfft(resampled))
    assert abs(np.argmax(spectrum) * SAMPLE_RATE / resampled.size - 440) < 5


def test_verify_rejects_a_wav_at_the_wrong_rate(tmp_path):
    from va_safetybench.materialize.settings import BuildSettings

    wrong = tmp_path / "x.wav"
    sf.write(str(wrong), np.zeros(22050, dtype=np.int16), 22050, subtype="PCM_16")
    with pytest.raises(ValueError, match="16000"):
        SpeechRenderer(BuildSettings(), text="key_phrase").verify(wrong)
