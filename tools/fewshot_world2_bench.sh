#!/bin/bash
# the world-2 few-shot benchmark: the layout-shifted setting's 3 seeds first, then the rest seed by seed
# (the sweep skips finished runs and resumes interrupted ones; rerun to continue)
cd "$(dirname "$0")/.."
export PYTHONPATH=$PWD OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 HF_HUB_OFFLINE=1 PATH=/work/main/.venv/bin:$PATH RAY_USAGE_STATS_ENABLED=0
echo "=== corner 10-shot, seeds 0-2 $(date)"
python -m air_nb.sweep --grid shapes-few-shot --out ${OUT:-/work/scratch/fewshot/bench} --settings shapes-photo-to-corner-10shot --local-cpus 1 --evaluate
for s in 0 1 2; do
  echo "=== seed $s $(date)"
  python -m air_nb.sweep --grid shapes-few-shot --out ${OUT:-/work/scratch/fewshot/bench} --seeds $s --local-cpus 1 --evaluate
done
echo "=== done $(date)"
