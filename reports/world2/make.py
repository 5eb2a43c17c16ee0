"""Shapes world 2: the shipped 64 px sources, their acceptance measures, the layout judge and the source
discriminators (README.md here). The weights these stages write are the ones shipped in air_nb/weights/.

    python reports/world2/make.py --tables                                    # README table and headline.md from the JSON
    python reports/world2/make.py --ship SRC OUT                              # SRC's photo generator in float16 -> OUT
    python reports/world2/make.py --measure OUT                               # <source>.metrics.json here (OUT/shapes-photo...)
    python reports/world2/make.py --layout-judge OUT                          # OUT/shapes-layout-judge.safetensors, layout.metrics.json
    python reports/world2/make.py --discriminators OUT [--names shapes-photo]  # 600 steps against each frozen source
    python reports/world2/make.py --continue-discriminators OUT --steps 300 200   # + steps with shifted reals and fakes

SRC: a trained EMA generator (`papermill nbs/train_world2_generator.ipynb ...`, or the photo slice that
reports/world2_all_styles/make.py writes). shapes-red and shapes-circle are restrictions of OUT/shapes-photo.safetensors
(`restrict_source`), so every stage after --ship measures what would ship. One thread; --continue-discriminators saves
a checkpoint every --chunk steps and resumes from it.
"""
import json, sys, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from study import study_parser, replace_block, write_headline, md_table

HERE = Path(__file__).resolve().parent
SOURCES = ["shapes-photo", "shapes-red", "shapes-circle"]


def main():
    "The command line: the stages asked for, then the tables."
    p = study_parser(__doc__)
    p.add_argument("--ship", type=Path, nargs=2, metavar=("SRC", "OUT"), help="save SRC's generator in float16 as OUT/shapes-photo.safetensors")
    p.add_argument("--measure", type=Path, metavar="OUT", help="acceptance measures of OUT's sources")
    p.add_argument("--layout-judge", type=Path, metavar="OUT", help="train and measure the layout judge")
    p.add_argument("--discriminators", type=Path, metavar="OUT", help="train the source discriminators into OUT")
    p.add_argument("--continue-discriminators", type=Path, metavar="OUT", help="continue the shipped discriminators into OUT")
    p.add_argument("--names", nargs="+", default=None, help="sources for the discriminator stages")
    p.add_argument("--steps", type=int, nargs="+", default=[300, 200], help="--continue-discriminators: steps per name")
    p.add_argument("--n", type=int, default=2000, help="latents per measure")
    a = p.parse_args()
    import torch; torch.set_num_threads(1)
    if a.ship:
        from air_nb.models.generators import Generator
        from air_nb.shapes.training import save_half
        save_half(Generator.load(a.ship[0]), a.ship[1] / "shapes-photo.safetensors")
    if a.measure: measure(a.measure, a.n)
    if a.layout_judge: layout_judge(a.layout_judge, a.n)
    if a.discriminators: discriminators(a.discriminators, a.names or SOURCES)
    if a.continue_discriminators: continue_discriminators(a.continue_discriminators, a.names or SOURCES[::2], a.steps)
    if a.tables or a.measure: tables()
    if not any(v for k, v in vars(a).items() if k not in ("steps", "n", "names")): p.print_help()


def log(*a): print(time.strftime("%H:%M:%S"), *a, flush=True)


def shipped_sources(out: Path) -> dict:
    "The three sources as they would ship: the float16 photo generator and its two restricted sub-domains."
    from air_nb.models.generators import Generator
    from air_nb.shapes.world2 import restrict_source
    photo = Generator.load(out / "shapes-photo.safetensors")
    return {"shapes-photo": photo, **{name: restrict_source(photo, name) for name in SOURCES[1:]}}


def measure(out: Path, n: int):
    "Judge against the ground truth on n fresh latents (seed 777), FID[judge], ideal sketches of min(n, 500) latents."
    from air_nb.core.base import save_json
    from air_nb.shapes.measures import source_measures, ideal_sketch_measures
    from air_nb.shapes.world1 import load_judge
    judge = load_judge()
    for name, G in shipped_sources(out).items():
        m = {"source": source_measures(G, judge, n=n, seed=777), "ideal_sketch": ideal_sketch_measures(G, judge, n=min(n, 500), seed=787)}
        save_json(m, HERE / f"{name}.metrics.json"); log(name, json.dumps(m))


def layout_judge(out: Path, n: int, steps: int = 1500):
    "Train the layout judge on broad-layout renders; its agreement on fresh renders and on each source's samples."
    from air_nb.core.base import save_json
    from air_nb.shapes.judge import train_layout_judge, save_layout_judge, layout_pool, layout_agreement
    from air_nb.shapes.measures import layout_measures
    lj = train_layout_judge(steps=steps, n_pool=min(6000, 4 * n), log=log)
    save_layout_judge(lj, out / "shapes-layout-judge.safetensors")
    images, truth = layout_pool(min(n, 1000), seed=99)
    res = {"fresh_broad_renders": layout_agreement(lj, images.float() / 127.5 - 1, truth)}
    res.update({name: layout_measures(G, lj, n=n) for name, G in shipped_sources(out).items()})
    save_json(res, HERE / "layout.metrics.json"); log(json.dumps(res))


def discriminators(out: Path, names, steps: int = 600):
    "A StyleGAN2 discriminator per source, trained against the frozen generator (renders of its latents are the reals)."
    from air_nb.shapes.training import train_discriminator, save_discriminator
    gens = shipped_sources(out)
    for name in names:
        save_discriminator(train_discriminator(gens[name], steps=steps, log=log), out / f"{name}-discriminator.safetensors")


def continue_discriminators(out: Path, names, steps, chunk: int = 100, shift: int = 4):
    """More steps for each shipped discriminator, reals and fakes translated alike by up to `shift` px, a checkpoint
    every `chunk` steps (a rerun resumes), and `discriminator_separation` on 512 held-out latents before and after
    (discriminators/<name>.json here)."""
    from air_nb.core.base import find_weights, save_json
    from air_nb.models.generators import load_generator
    from air_nb.shapes.training import load_discriminator, save_discriminator, train_discriminator, discriminator_separation
    (HERE / "discriminators").mkdir(exist_ok=True)
    for name, total in zip(names, steps):
        G, shipped = load_generator(name), find_weights(f"{name}-discriminator.safetensors")
        ck, state = out / f"{name}-discriminator.safetensors", HERE / "discriminators" / f"{name}.json"
        rec = json.loads(state.read_text()) if state.exists() else {"done": 0, "before": discriminator_separation(load_discriminator(shipped), G)}
        D = load_discriminator(ck if ck.exists() and rec["done"] else shipped)
        while rec["done"] < total:
            n = min(chunk, total - rec["done"])
            D = train_discriminator(G, steps=n, seed=1000 + rec["done"], init=D, max_shift=shift, log=lambda s: log(name, s))
            rec["done"] += n
            save_discriminator(D, ck); save_json(rec, state); log(name, "steps", rec["done"])
        if "after" not in rec:     # measured on the float16 file, as it would ship
            rec.update(after=discriminator_separation(load_discriminator(ck), G), shift=shift); save_json(rec, state)


def tables():
    "The shipped sources' acceptance table (photo-only generator's FID beside it) and the headline."
    read = lambda name: json.loads((HERE / f"{name}.metrics.json").read_text())
    rows, fids, agree = [], [], []
    for name in SOURCES:
        m, old = read(name), read(name.replace("shapes-", "shapes2-"))
        s, i = m["source"], m["ideal_sketch"]
        fids.append(s["fid_judge"]); agree.append(min(s[f"agreement_{a}"] for a in ("shape", "color", "style")))
        rows.append([name, *(f"{s[f'agreement_{a}']:.3f}" for a in ("shape", "color", "style")), f"**{s['fid_judge']:.2f}**",
                     f"{s['fid_judge_renders_vs_renders']:.2f}", " / ".join(f"{i[k]:.2f}" for k in ("sketch", "shape", "color", "all")),
                     f"{old['source']['fid_judge']:.2f}"])
    replace_block(HERE / "README.md", "sources", md_table(
        ["source", "shape", "colour", "style", "FID[judge]", "renders vs renders", "ideal sketches: sketch / shape / colour / all",
         "photo-only generator's FID"], rows))
    write_headline(HERE, f"World 2, 64 px sources whose every latent has known attributes (the photo slice of one generator "
                   f"trained on every style): the judge agrees with the ground truth on shape, colour and style on at least "
                   f"{min(agree):.3f} of {read('shapes-photo')['source']['n']} fresh latents, FID on judge features "
                   f"{min(fids):.2f}-{max(fids):.2f}; paintings are outside its range.")


if __name__ == "__main__":
    main()
