#!/usr/bin/env bash
# The GPU check on a fresh machine (`make gpu-check`): pick a Python whose torch sees the device (the image's
# python3 on the GPU machine; `make gpu-setup` only when none does), install wheels carried in .gpu-carry/wheels
# without an index, make the toolkit importable with its plugins without pip (PYTHONPATH and a generated
# dist-info), then run `surrogate bench gpu`. No network, no Cantera needed (tables come from .gpu-carry/tables,
# built by `make gpu-check-prepare`).
# usage: scripts/gpu_check.sh [OUT] [--device cuda|cpu] [--quick] [--budget S] [other `surrogate bench gpu` options]
set -u
cd "$(dirname "$0")/.."
out=${1:-gpu-check}
[ $# -gt 0 ] && shift
device=cuda
previous=
for arg in "$@"; do [ "$previous" = --device ] && device=$arg; previous=$arg; done
case $device in cuda*) probe="torch.cuda.is_available()" ;; *) probe="True" ;; esac

PY=
for candidate in ${PYTHON:-} .venv/bin/python python3; do
  command -v "$candidate" >/dev/null 2>&1 || continue
  if "$candidate" -c "import sys, torch; sys.exit(0 if $probe else 1)" 2>/dev/null; then PY=$candidate; break; fi
done
if [ -z "$PY" ]; then
  echo "gpu-check: no Python here whose torch sees $device; running make gpu-setup"
  make gpu-setup || exit 1
  PY=.venv/bin/python
fi
echo "gpu-check: python $PY"

# wheels: carried whole in .gpu-carry/wheels, or (too large for one call, e.g. onnxruntime-gpu) in pieces
# .gpu-parts/NAME.whl.part-aa, -ab, ... carried by successive calls to a warm machine (`make gpu-check-ort-parts`)
wheels=()
for wheel in .gpu-carry/wheels/*.whl; do [ -e "$wheel" ] && wheels+=("$wheel"); done
for first in .gpu-parts/*.whl.part-aa; do
  [ -e "$first" ] || continue
  whole=/tmp/$(basename "${first%.part-aa}")
  cat "${first%aa}"?? > "$whole" && wheels+=("$whole")
  echo "gpu-check: $whole from $(ls "${first%aa}"?? | wc -l) pieces"
done
if [ ${#wheels[@]} -gt 0 ]; then
  site=$(mktemp -d /tmp/gpu-check-site.XXXX)
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$site" "${wheels[@]}" \
    && export PYTHONPATH=$site${PYTHONPATH:+:$PYTHONPATH} && echo "gpu-check: installed ${wheels[*]} in $site"
fi

installed="import importlib.metadata as m, surrogate; assert m.entry_points(group='surrogate.tasks').select(name='regression')"
if ! "$PY" -c "$installed" 2>/dev/null; then
  meta=$(mktemp -d /tmp/gpu-check-meta.XXXX)
  PYTHONPATH=$PWD "$PY" -m surrogate.benchmarks.gpu_metadata "$meta" || exit 1
  export PYTHONPATH=$meta:$PWD${PYTHONPATH:+:$PYTHONPATH}
  echo "gpu-check: toolkit from $PWD, plugins from $meta"
fi
exec "$PY" -m surrogate.cli.main bench gpu -o "$out" "$@"
