#!/usr/bin/env bash
# Set up a fresh Debian/Ubuntu machine: system packages the build and tests use, then a venv in .venv.
# Idempotent: re-running it only installs what is missing.
#   --lmms-eval   also lmms-eval, in a venv of its own (scripts/setup_lmms.sh: .venv-lmms, or $VA_BENCH_LMMS_VENV)
#   --vllm        also the real vLLM engine (CPU build) for the vLLM tests, in a venv of its own
#                 (scripts/setup_vllm.sh: .venv-vllm, or $VA_BENCH_VLLM_VENV; about 7 GB and 10 minutes)
set -euo pipefail
cd "$(dirname "$0")/.."

WITH_LMMS=0
WITH_VLLM=0
for arg in "$@"; do
  case "$arg" in
    --lmms-eval) WITH_LMMS=1 ;;
    --vllm) WITH_VLLM=1 ;;
    *) echo "setup.sh: unknown option $arg (known: --lmms-eval, --vllm)" >&2; exit 2 ;;
  esac
done

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
# espeak-ng: offline TTS; fonts-liberation: Arial-metric typography; chromium: leaderboard browser tests;
# ffmpeg: the shared libraries TorchCodec (torchvision's video decoder) loads
APT_PACKAGES="espeak-ng fonts-liberation sox chromium ffmpeg"
missing=""
for pkg in $APT_PACKAGES; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
fi

PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# Pinned so pip takes the CPU-capable build that matches torchvision's video readers; on a GPU machine
# this is the CUDA build from PyPI.
.venv/bin/python -m pip install -q "torch==2.14.1" "torchvision==0.29.1"
.venv/bin/python -m pip install -q -e ".[dev,tts]"

if [ "$WITH_LMMS" = 1 ]; then bash scripts/setup_lmms.sh; fi
if [ "$WITH_VLLM" = 1 ]; then bash scripts/setup_vllm.sh; fi
