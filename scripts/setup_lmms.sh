#!/usr/bin/env bash
# lmms-eval in a venv of its own, layered over the main one (.venv, made by scripts/setup.sh first).
# lmms-eval 0.7.3 pins av<16 and needs filelock<4, older than the main venv's, so those (and lmms-eval with the
# packages it adds) go into this venv, whose own site-packages come first; everything else, torch and
# transformers and the project itself (editable), is the main venv's, reached through a .pth file. About 500 MB
# and 2 minutes, where a standalone venv would download torch again.
#   bash scripts/setup_lmms.sh                       # makes .venv-lmms in the repository root
#   VA_BENCH_LMMS_VENV=/path bash scripts/setup_lmms.sh
# `va-bench lmms-eval ARGS` finds it there ($VA_BENCH_LMMS_VENV, else .venv-lmms) and runs lmms-eval in it.
set -euo pipefail
cd "$(dirname "$0")/.."

MAIN=.venv
LMMS="${VA_BENCH_LMMS_VENV:-.venv-lmms}"
[ -x "$MAIN/bin/python" ] || { echo "setup_lmms.sh: $MAIN/bin/python not found: run scripts/setup.sh first" >&2; exit 2; }

# the interpreter the main venv was made from, so that both share one Python version
BASE_PYTHON="$("$MAIN/bin/python" -c 'import sys, os; print(os.path.join(sys.base_prefix, "bin", "python3"))')"
[ -x "$LMMS/bin/python" ] || "$BASE_PYTHON" -m venv "$LMMS"
OWN_SITE="$("$LMMS/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
MAIN_SITE="$(cd "$("$MAIN/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" && pwd)"
# addsitedir (not a bare path line) so that the main venv's own .pth files, the editable install among them, apply
echo "import site; site.addsitedir('$MAIN_SITE')" > "$OWN_SITE/_va_bench_main_venv.pth"

"$LMMS/bin/python" -m pip install -q --upgrade pip
# decord: the video reader of lmms-eval's qwen2_vl / llava classes; moviepy and qwen-omni-utils: its Qwen-Omni classes
"$LMMS/bin/python" -m pip install -q "lmms-eval==0.7.3" "filelock<4" "decord==0.6.0" "moviepy==2.2.1" "qwen-omni-utils==0.0.9"
"$LMMS/bin/python" -c "import lmms_eval, va_safetybench; print('lmms-eval venv ready:', '$LMMS')"
