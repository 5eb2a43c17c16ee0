"""The attainment measure on constructed cases made from the world's renderer on fresh latents (not those of the
calibration or the notebook): the ideal target reached, the unchanged source and every fooling pattern not."""
import pytest
import torch

from air_nb.shapes.attainment import attainment, corrupted_images, judge_agreement, VALIDATION_SETTINGS
from air_nb.shapes.world2 import load_world2_generator, world2_latents
from air_nb.shapes.world1 import load_judge

torch.set_num_threads(1)
FOOLING = ["source", "outline-1px", "outline-2px", "halo", "partial-half", "partial-blotches", "bleed", "blur", "morph", "blurred-morph"]


@pytest.mark.parametrize("setting", ["red-to-blue", "circle-to-square", "photo-to-sketch", "photo-to-corner"])
def test_constructed_cases(setting):
    source, change, *where = VALIDATION_SETTINGS[setting]
    layout = where[0] if where else None     # photo-to-corner: the same shape, moved to the corner layout
    G = load_world2_generator(source)
    z = world2_latents(40 if layout is None else 24, 90210)
    reached = {k: float(attainment(corrupted_images(G, z, k, layout=layout, **change), G, z, layout=layout, **change).reached.mean())
               for k in ["ideal", *FOOLING]}
    assert reached["ideal"] >= 0.97, reached
    assert all(reached[k] <= 0.05 for k in FOOLING), reached


def test_the_source_generator_reaches_nothing_and_keeps_everything():
    G = load_world2_generator("shapes-red")
    z = world2_latents(40, 5150)
    with torch.no_grad(): r = attainment(G(z), G, z, color="blue")
    assert r.reached.mean() == 0 and r.kept.mean() >= 0.95 and r.off_world.mean() <= 0.1


def test_agrees_with_the_judge_on_clean_renders():
    agree = judge_agreement(load_judge(), n=150, seed=8080)
    assert agree["all"] >= 0.97, agree
