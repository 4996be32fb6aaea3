#!/usr/bin/env bash
# One device session, prepared: the GPU tests, then the generative methods' per-epoch figures
# against the authors' way and the floor, then their whole AWA2 schedules, all on the GPU.
# Every figure goes to benchmarks/perf/results.csv with the GPU's name in its machine column.
# Run from the repository root, with a Python that has torch with CUDA and kgzsl's dependencies
# (on a lent device machine its own python3, with any missing package carried as wheels):
#     bash benchmarks/gpu_session.sh [python]      (at most 11 minutes: the steps' limits add up to 660 s)
# Each step has its own time limit, so that one slow step cannot cost the others.
set -uo pipefail
PY=${1:-.venv/bin/python}
export KGZSL_SHARED_DATA=${KGZSL_SHARED_DATA:-../shared/data} HF_HUB_OFFLINE=1 MPLBACKEND=Agg
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"  # kgzsl from this checkout, installed or not
step() { local limit=$1; shift; echo "== $* (limit ${limit}s)"; timeout "$limit" "$@" || echo "== exit $? from: $*"; }
"$PY" -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print(torch.cuda.get_device_name(0))" || exit 2
step 120 "$PY" -m pytest -q -m gpu -p no:cacheprovider
for m in f_clswgan cada_vae tf_vaegan; do
  step 60 "$PY" benchmarks/perf/epoch_$m.py --device cuda --quick --rounds 3 --note "GPU session"
done
step 120 "$PY" benchmarks/perf/epoch_ce_gzsl.py --device cuda --updates 2 --note "GPU session"
step 240 "$PY" benchmarks/perf/schedule_times.py --device cuda --note "GPU session"
