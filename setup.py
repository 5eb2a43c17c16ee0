"""Packaging for air_nb. Metadata comes from settings.ini (nbdev 2); dependencies are listed here."""
from configparser import ConfigParser
from pathlib import Path
from setuptools import setup, find_packages

cfg = ConfigParser(delimiters=["="])
cfg.read(Path(__file__).parent / "settings.ini")
cfg = cfg["DEFAULT"]

requirements = [
    "torch>=2.1", "torchvision>=0.16", "open_clip_torch>=2.24,<4", "safetensors>=0.4",
    "numpy", "pillow", "tqdm", "matplotlib", "seaborn", "pandas", "scipy",
    "ipywidgets", "papermill>=2.5", "pyyaml", "ray>=2.9", "ipykernel", "torchmetrics>=1.4", "kmedoids>=0.5", "torch-fidelity>=0.3",
    "opencv-python-headless",   # Farneback optical flow of ASC (air_nb.methods.asc)
    "diffusers==0.42.1", "peft==0.21.2",   # the diffusion generator (air_nb.models.diffusion): UNet2DModel, DPM-Solver++, LoRA
    "fastcore>=1.12,<1.13",   # @patch: the chapters define a class's methods one cell at a time
]
# nbdev 3 refuses settings.ini: nbdev 2 is pinned with the fastcore/execnb releases it works with.
dev_requirements = [
    "nbdev==2.4.14", "fastcore>=1.12,<1.13", "execnb>=0.1.14,<0.2",
    "pytest>=8", "pytest-xdist", "jupytext>=1.16", "nbformat",
    "jupyterlab>=4",   # the user's notebook front end: `make lab`
    "playwright==1.63.0",   # drives the system's Chromium (Debian package `chromium`) in the browser tests; its own browser download is not used
]

setup(
    name=cfg["lib_name"], version=cfg["version"], description=cfg["description"],
    long_description=(Path(__file__).parent / "README.md").read_text() if (Path(__file__).parent / "README.md").exists() else "",
    long_description_content_type="text/markdown",
    author=cfg["author"], author_email=cfg["author_email"], license="Apache-2.0",
    url=cfg["git_url"], python_requires=">=" + cfg["min_python"],
    packages=find_packages(include=["air_nb", "air_nb.*"]),
    package_data={"air_nb": ["weights/*", "assets/*", "*/*.yaml"]}, include_package_data=True,
    install_requires=requirements, extras_require={"dev": dev_requirements},
    entry_points={"nbdev": [f"{cfg['lib_name']}={cfg['lib_name']}._modidx:d"],
                  # plug-in worlds: importing the module registers the world (air_nb.core.registry.load_plugins)
                  "air_nb.plugins": ["shapes = air_nb.shapes.plugin"]},
    zip_safe=False,
)
