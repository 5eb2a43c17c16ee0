"""Where a NADA training step on shapes-photo-to-sketch spends time beyond the bare step: cProfile of 50 bare steps and
50 trainer steps (no run folder), the per-function difference in own time, ms per iteration (profiling inflates both).

    OMP_NUM_THREADS=1 python reports/bench/loop_profile.py
"""
import cProfile, pstats, io, torch, time
torch.set_num_threads(1)
from air_nb.training.trainer import Trainer, make_config, load_run_clip
from air_nb.models.generators import load_generator
from air_nb.scale.bench import bare_seconds
cfg = make_config(preset="shapes-photo-to-sketch", method="nada", iterations=60)
clip = load_run_clip(cfg.run, "cpu"); G = load_generator("shapes-photo", "cpu")
def stats(pr):
    s = pstats.Stats(pr); d = {}
    for (f, l, name), (cc, nc, tt, ct, callers) in s.stats.items(): d[name] = d.get(name, 0) + tt
    return d
pr = cProfile.Profile(); pr.enable(); bare_seconds(G, clip, batch=cfg.run.batch, reps=50, warmup=0); pr.disable(); b = stats(pr)
tr = Trainer(cfg, clip, G, progress=False); tr.setup()
pr = cProfile.Profile(); pr.enable()
for t in range(50): tr.step(t, defer=True)
tr.flush_log(); pr.disable(); l = stats(pr)
tb, tl = sum(b.values()), sum(l.values())
print(f"total tottime bare {tb:.2f}s loop-steps {tl:.2f}s")
diff = sorted(((l.get(k, 0) - b.get(k, 0), k) for k in set(b) | set(l)), reverse=True)
for d, k in diff[:18]: print(f"{d*1000/50:8.2f} ms/it  {k}  (bare {b.get(k,0)*1000/50:.2f}, loop {l.get(k,0)*1000/50:.2f})")
