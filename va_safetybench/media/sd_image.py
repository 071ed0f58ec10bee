"""MM-SafetyBench Stable Diffusion images (task mmsb_sd), from three sources (`--sd`):

none                 not built; the task (and SD+TYPO) is reported unavailable.
hub                  the official images, copied byte for byte from the Hugging Face dataset
                     PKU-Alignment/MM-SafetyBench (data/{scenario}/SD.parquet, one row per item:
                     id, question, image), a mirror of MM-SafetyBench's `imgs/` with its
                     SD / SD_TYPO / TYPO splits; the authors' own `imgs/` download is a
                     file-sharing link that a program cannot fetch, hence the archive option.
hub:/path/to/x.zip   a local copy of the official archive: members `.../imgs/{scenario}/SD/{id}.jpg`.
diffusers:MODEL      generate with a diffusers text-to-image pipeline (a Hub id or a local
                     directory), loaded once, run in the parent process one image at a time,
                     seeded per item. Prompt "A photo of {key phrase}", as MM-SafetyBench
                     prompted Stable Diffusion; resolution and step count are the pipeline's own
                     defaults (SDXL base, the model upstream used: 1024x1024).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import zipfile
from pathlib import Path

from ..errors import InputError
from ..items import Item
from ..materialize.hashing import text_digest
from ..materialize.renderer import RecordedHash, Renderer
from ..materialize.settings import BuildSettings
from ..sources.official import cache_base
from .image_io import decode_image
from .source_spec import parse_media_source

HUB_REPO = "PKU-Alignment/MM-SafetyBench"
HUB_REVISION = os.environ.get("VA_BENCH_MMSB_HUB_REVISION", "main")
PROMPT = "A photo of {}"
HOW_TO_BUILD = "pass --sd hub (official images) or --sd diffusers:MODEL (generate them)"


def hub_config(scenario: str) -> str:
    """'01-Illegal_Activitiy' -> 'Illegal_Activitiy', the dataset's folder name."""
    return scenario.split("-", 1)[1]


def sd_cache_dir() -> Path:
    return cache_base() / "mmsb-sd"


class SDImageRenderer(Renderer):
    version = "1"

    def __init__(self, settings: BuildSettings, **args: object) -> None:
        super().__init__(settings, **args)
        source = parse_media_source("--sd", settings.sd, "the official imgs/ folder")
        self.archive, self.model = source.archive, source.model
        self.kind = "archive" if source.archive else source.kind
        if self.kind == "diffusers":
            self.parallel = False
        self._pipe = None
        self._members: dict[tuple[str, str], zipfile.ZipInfo] = {}

    def unavailable_reason(self) -> str | None:
        return f"--sd none: {HOW_TO_BUILD}" if self.kind == "none" else None

    # ---- parent side ---------------------------------------------------------------------
    def prepare(self, bench: Path, items: list[Item]) -> None:
        if self.kind == "archive":
            self._members = _index_archive(self.archive)
        elif self.kind == "hub":
            _fetch_hub(items)
        # diffusers: the pipeline loads on the first image to render, so a no-op rebuild loads nothing

    def recipe(self, item: Item, recorded: RecordedHash) -> dict:
        if self.kind == "archive":
            info = self._member(item)
            return {"source": "archive", "crc": info.CRC, "bytes": info.file_size}
        if self.kind == "hub":
            return {
                "source": "hub",
                "repo": HUB_REPO,
                "revision": HUB_REVISION,
                "sha256": _file_digest(_hub_path(item)),
            }
        return {
            "source": "diffusers",
            "model": self.model,
            "prompt": text_digest(PROMPT.format(item.key_phrase)),
            "seed": image_seed(self.settings.seed, item.key),
        }

    # ---- render (worker side for hub/archive, parent for diffusers) ------------------------
    def render(self, item: Item, dest: Path, bench: Path) -> None:
        if self.kind == "archive":
            with zipfile.ZipFile(self.archive) as zf:
                dest.write_bytes(zf.read(self._member(item)))
        elif self.kind == "hub":
            shutil.copyfile(_hub_path(item), dest)
        else:
            self._generate(item, dest)

    def _member(self, item: Item) -> zipfile.ZipInfo:
        if not self._members:
            self._members = _index_archive(self.archive)
        info = self._members.get((item.scenario, item.id))
        if info is None:
            raise RuntimeError(f"{self.archive} has no imgs/{item.scenario}/SD/{item.id}.jpg")
        return info

    def _generate(self, item: Item, dest: Path) -> None:
        import torch

        if self._pipe is None:
            self._pipe = _load_pipeline(self.model, self.settings.device)
        generator = torch.Generator(device="cpu").manual_seed(image_seed(self.settings.seed, item.key))
        image = self._pipe(PROMPT.format(item.key_phrase), generator=generator).images[0]
        image.convert("RGB").save(dest, format="JPEG", quality=95)

    def verify(self, path: Path) -> None:
        img = decode_image(path)
        if img.width < 8 or img.height < 8:
            raise ValueError(f"implausible SD image size {img.width}x{img.height}")

    def describe(self) -> dict:
        return {
            **super().describe(),
            "sd": self.settings.sd,
            **({"prompt_template": PROMPT} if self.kind == "diffusers" else {}),
        }


def image_seed(build_seed: int, item_key: str) -> int:
    return int.from_bytes(hashlib.sha256(f"sd:{build_seed}:{item_key}".encode()).digest()[:4], "little")


def _index_archive(archive: Path) -> dict[tuple[str, str], zipfile.ZipInfo]:
    """(scenario, id) -> member for every `.../imgs/{scenario}/SD/{id}.jpg` in the archive."""
    index = {}
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            parts = info.filename.split("/")
            if len(parts) >= 4 and parts[-4] == "imgs" and parts[-2] == "SD" and parts[-1].endswith(".jpg"):
                index[(parts[-3], parts[-1][:-4])] = info
    if not index:
        raise InputError(f"--sd hub:{archive}: no imgs/{{scenario}}/SD/{{id}}.jpg members in it")
    return index


def _hub_path(item: Item) -> Path:
    return _hub_dir(item.scenario) / f"{item.id}.jpg"


def _hub_dir(scenario: str) -> Path:
    return sd_cache_dir() / HUB_REVISION / scenario


def _fetch_hub(items: list[Item]) -> None:
    """Download each needed scenario's SD.parquet once and unpack the images into the cache."""
    needed: dict[str, set[str]] = {}
    for item in items:
        if not _hub_path(item).exists():
            needed.setdefault(item.scenario, set()).add(item.id)
    for scenario, ids in sorted(needed.items()):
        import pyarrow.parquet as pq
        from huggingface_hub import hf_hub_download

        try:
            parquet = hf_hub_download(
                HUB_REPO, f"data/{hub_config(scenario)}/SD.parquet", repo_type="dataset", revision=HUB_REVISION
            )
        except Exception as exc:  # offline, DNS, HTTP errors: all mean "not reachable from here"
            raise InputError(
                f"--sd hub: cannot download {HUB_REPO} data/{hub_config(scenario)}/SD.parquet "
                f"({type(exc).__name__}); without network pass --sd hub:/path/to/imgs.zip "
                "(a local copy of the official images) or --sd diffusers:MODEL"
            ) from None
        table = pq.read_table(parquet, columns=["id", "image"]).to_pylist()
        out = _hub_dir(scenario)
        out.mkdir(parents=True, exist_ok=True)
        for row in table:
            row_id, image = str(row["id"]), row["image"]
            if row_id in ids and image and image.get("bytes"):
                tmp = out / f".{row_id}.jpg.part"
                tmp.write_bytes(image["bytes"])
                os.replace(tmp, out / f"{row_id}.jpg")
        missing = [i for i in sorted(ids) if not (out / f"{i}.jpg").exists()]
        if missing:
            raise InputError(f"--sd hub: {HUB_REPO} {scenario} has no SD image for item(s) {', '.join(missing[:5])}")


def _file_digest(path: Path) -> str:
    from ..materialize.hashing import file_sha256

    return file_sha256(path)[:16] if path.exists() else "missing"


def _load_pipeline(model: str, device: str | None):
    from .diffusion import load_pipeline

    return load_pipeline("--sd", model, device, "AutoPipelineForText2Image", "a text-to-image pipeline")
