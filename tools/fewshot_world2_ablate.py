# diagnostic: is the loss of content on photo-corner due to the new IDC defaults or the shipped D? (one seed, 120 iterations)
import json, os, time, torch; torch.set_num_threads(1)
from air_nb.trainer import adapt
from air_nb.fewshot_eval import run_measures
from air_nb.freezed import load_target_images
from air_nb.shapes import load_judge
from air_nb.world2_judge import load_layout_judge
judge, lj = load_judge(), load_layout_judge()
variants = {"idc-no-mixing-no-pl-no-lrscale": dict(mixing=0.0, pl_weight=0.0, lazy_lr_scaling=False),
            "idc-random-D": dict(discriminator="random"),
            "idc-lr0.0005": dict(lr=0.0005)}
out = {}
for name, kw in variants.items():
    t = time.process_time()
    r = adapt(dict(preset="shapes-photo-to-corner-10shot", method="idc", seed=0, out_dir=f"/work/scratch/fewshot/ablate/{name}", **kw), progress=False)
    m = run_measures(r.generator.eval(), "shapes2:photo-corner", load_target_images("shapes2:photo-corner", 10, 64), judge, lj, n=300, n_reference=500)
    out[name] = {"cpu_s": time.process_time() - t, **m}
    print(name, json.dumps({k: round(v, 3) for k, v in out[name].items()}), flush=True)
json.dump(out, open(os.environ.get("OUT", "/work/scratch/fewshot/ablate.json"), "w"), indent=1)
