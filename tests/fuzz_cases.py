"""Hostile and corrupt inputs for air_nb's readers, built from the test fixtures, and the contract every reader must keep.

A case is (family, name, build, read, check): `build(tmp)` makes the file or folder in `tmp` and returns what `read`
is given; `read(target)` is the library call; `check(observation)` turns what happened into an outcome:

* "executed"            a payload in the file ran (its sentinel file exists)
* "raw exception"       the refusal is not an `air_nb.core.base.AirNbError` (KeyError, RuntimeError, UnpicklingError ...)
* "misleading message"  an AirNbError whose message is empty, does not name the file or folder, repeats torch's
                        advice to pass weights_only=False, or lacks the word of its family ("rename", "torchscript",
                        "empty", "non-finite"/"implausib", "symlink", "run folder")
* "silent load"         a corrupt input came back without an error (or a load that was meant to happen did not
                        happen as it should: values lost, no warning, old checkpoints overwritten)
* "clear refusal"       the expected outcome of a corrupt input
* "loaded as expected"  the expected outcome of the cases that must load (allow_nonfinite=True, a run that resumes
                        from its intact checkpoint, a module source that is kept but never run)

`run_case(case, tmpdir)` returns one of these strings (an `Outcome`, which also carries the exception and a note).
`python tests/fuzz_cases.py --table [--out FILE] [--default]` runs the cases and prints a markdown table.
"""
from __future__ import annotations

import argparse, atexit, builtins, io, json, os, pickle, re, shutil, struct, subprocess, sys, tempfile, time, warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from PIL import Image

import air_nb
from air_nb.core.base import AirNbError
from air_nb.clip.models import tiny_random_clip
from air_nb.methods.freezed import load_target_images
from air_nb.models.checkpoints import read_nvlabs_pickle, write_nvlabs_pickle
from air_nb.models.discriminators import load_discriminator, save_discriminator
from air_nb.models.generators import Generator, load_generator
from air_nb.models.guided_diffusion import load_guided_diffusion, random_state_dict
from air_nb.training import runs, trainer

FIX = Path(__file__).resolve().parent / "fixtures"
G_NV, G_RO = FIX / "generators" / "nvlabs_small.pkl", FIX / "generators" / "rosinality_small.pt"
D_NV, D_RO = FIX / "discriminators" / "nvlabs_d_small.pkl", FIX / "discriminators" / "rosinality_d_small.pt"
ADM_FIX = FIX / "guided_diffusion"

OUTCOMES = ("executed", "raw exception", "silent load", "misleading message", "clear refusal", "loaded as expected")
REFUSED, LOADED = "clear refusal", "loaded as expected"
SENTINEL = "PWNED"                                     # a payload that runs creates tmp/PWNED
TORCH_ADVICE = re.compile(r"weights_only`?\s*(=|set to)\s*`?false", re.I)
NONFINITE_WORDS = ("non-finite", "implausib")
ABS_PATH = re.compile(r"(?:/[\w.+@~-]+)+/?")


# ----------------------------------------------------------------------------------------------- outcome and check
class Outcome(str):
    "One of OUTCOMES, with the exception (type, message) and a note saying why."
    def __new__(cls, value: str, exc: BaseException | None = None, note: str = ""):
        assert value in OUTCOMES, value
        self = super().__new__(cls, value)
        self.exc_type = type(exc).__name__ if exc is not None else ""
        self.message = str(exc) if exc is not None else ""
        self.note = note
        return self

    def describe(self) -> str:
        return f"{str(self)}: {self.exc_type or 'no exception'} {self.message[:300]!r} {self.note}".strip()


@dataclass
class Observation:
    "What a case's read did: the exception or the result, the warnings, and the state of the files around it."
    target: Any
    tmp: Path
    exc: BaseException | None = None
    result: Any = None
    warnings: list[str] = field(default_factory=list)
    executed: bool = False
    changed: list[str] = field(default_factory=list)   # protected files whose bytes changed (or that vanished)


def _message_problem(obs: Observation, names: tuple[str, ...], words: tuple[str, ...]) -> str:
    "Why the refusal's message breaks the contract ('' when it keeps it)."
    msg = str(obs.exc)
    if not msg.strip(): return "empty message"
    if names and not any(n in msg for n in names): return f"does not name {' or '.join(map(repr, names))}"
    if TORCH_ADVICE.search(msg): return "repeats torch's weights_only=False advice"
    scrubbed = msg
    for t in sorted({str(obs.tmp), str(obs.tmp.resolve())}, key=len, reverse=True): scrubbed = scrubbed.replace(t, "<tmp>")
    for n in names: scrubbed = scrubbed.replace(n, "<name>")     # a word must come from the message, not from a path
    scrubbed = ABS_PATH.sub("<path>", scrubbed)
    if words and not any(w.lower() in scrubbed.lower() for w in words): return f"lacks the word {' or '.join(map(repr, words))}"
    return ""


def refusal(words: tuple[str, ...] = (), name: Callable[[Any], str | tuple[str, ...]] | None = None) -> Callable[[Observation], Outcome]:
    "The check of a corrupt input: an AirNbError, naming the file (`name(target)`, default its `.name`), with one of `words`."
    def check(obs: Observation) -> Outcome:
        if obs.executed: return Outcome("executed", obs.exc, "the sentinel file exists")
        if obs.exc is None:
            return Outcome("silent load", None, f"returned {type(obs.result).__name__}" + (f"; changed {obs.changed}" if obs.changed else ""))
        if not isinstance(obs.exc, AirNbError): return Outcome("raw exception", obs.exc)
        if obs.changed: return Outcome("silent load", obs.exc, f"refused, but changed {obs.changed}")
        names = name(obs.target) if name else Path(obs.target).name
        problem = _message_problem(obs, (names,) if isinstance(names, str) else tuple(names), words)
        return Outcome("misleading message", obs.exc, problem) if problem else Outcome(REFUSED, obs.exc)
    check.expected = REFUSED
    return check


def loads(verify: Callable[[Observation], str]) -> Callable[[Observation], Outcome]:
    "The check of an input that must load: no exception, nothing executed, and `verify(obs)` returns '' (else why not)."
    def check(obs: Observation) -> Outcome:
        if obs.executed: return Outcome("executed", obs.exc, "the sentinel file exists")
        if obs.exc is not None:
            if not isinstance(obs.exc, AirNbError): return Outcome("raw exception", obs.exc, "expected to load")
            return Outcome(REFUSED, obs.exc, "expected to load")
        why = verify(obs)
        return Outcome("silent load", None, why) if why else Outcome(LOADED)
    check.expected = LOADED
    return check


@dataclass
class Case:
    family: str
    name: str
    build: Callable[[Path], Any]        # tmp dir -> the target `read` is given
    read: Callable[[Any], Any]          # target -> what the library returns
    check: Callable[[Observation], Outcome]
    protect: Callable[[Any], list[Path]] | None = None   # target -> files whose bytes must not change
    slow_payload: bool = False          # the payload runs in a child process (Popen): wait a little before looking

    @property
    def expected(self) -> str: return self.check.expected

    @property
    def id(self) -> str: return f"{self.family}:{self.name}"


def wait_for(path: Path, seconds: float = 2.0) -> bool:
    "Whether `path` exists, waiting up to `seconds` for it (a payload run by Popen touches it from a child process)."
    end = time.monotonic() + seconds
    while not path.exists() and time.monotonic() < end: time.sleep(0.02)
    return path.exists()


def run_case(case: Case, tmpdir: str | os.PathLike) -> Outcome:
    "Build `case` in `tmpdir`, run its read, and classify what happened (one of OUTCOMES)."
    tmp = Path(tmpdir); tmp.mkdir(parents=True, exist_ok=True)
    target = case.build(tmp)
    protected = {p: p.read_bytes() for p in (case.protect(target) if case.protect else [])}
    obs = Observation(target, tmp)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try: obs.result = case.read(target)
        except Exception as e: obs.exc = e
    obs.warnings = [str(w.message) for w in caught]
    sentinel = tmp / SENTINEL
    if case.slow_payload: wait_for(sentinel, 0.5)
    obs.executed = sentinel.exists()
    obs.changed = [p.name for p, b in protected.items() if not p.is_file() or p.read_bytes() != b]
    return case.check(obs)


# ----------------------------------------------------------------------------------------------- shared artifacts
_SHARED: dict[str, Any] = {}


def prepare(shared_dir: str | os.PathLike | None = None, run_folder: bool = True) -> Path:
    "Set the folder of the artifacts every case copies from (built once per process); build the run folder now."
    if shared_dir is not None and _SHARED.get("dir") != Path(shared_dir):
        _SHARED.clear(); _SHARED["dir"] = Path(shared_dir); Path(shared_dir).mkdir(parents=True, exist_ok=True)
    if run_folder: base_run()
    return shared()


def shared() -> Path:
    if "dir" not in _SHARED:
        d = Path(tempfile.mkdtemp(prefix="air_nb_fuzz_shared_"))
        atexit.register(shutil.rmtree, d, True)
        _SHARED["dir"] = d
    return _SHARED["dir"]


def _once(key: str, make: Callable[[], Any]) -> Any:
    if key not in _SHARED: _SHARED[key] = make()
    return _SHARED[key]


def base_g_safetensors() -> Path:
    "Our .safetensors of the rosinality fixture generator (Generator.save)."
    return _once("g_st", lambda: Path(load_generator(G_RO).save(shared() / "g_base.safetensors")))


def base_d_safetensors(half: bool = True) -> Path:
    "Our .safetensors of the rosinality fixture discriminator (save_discriminator; float16 by default, as users get)."
    return _once(f"d_st{half}", lambda: Path(save_discriminator(load_discriminator(D_RO), shared() / f"d_base_{int(half)}.safetensors", half=half)))


def adm_fixture(name: str = "noattn") -> tuple[dict, dict[str, torch.Tensor]]:
    "The flags and a random state dict (as guided-diffusion saves) of the ADM fixture `name`."
    def make():
        fx = torch.load(ADM_FIX / f"{name}.pt", weights_only=True)
        return json.loads(fx["flags"]), random_state_dict(json.loads(fx["shapes"]), fx["seed"])
    flags, sd = _once(f"adm_{name}", make)
    return dict(flags), {k: v.clone() for k, v in sd.items()}


def torchscript_file() -> Path:
    def make():
        p = shared() / "script.pt"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), str(p))
        return p
    return _once("ts", make)


def png_bytes(seed: int = 0, size: int = 16) -> bytes:
    arr = np.random.RandomState(seed).randint(0, 256, (size, size, 3), dtype=np.uint8)
    buf = io.BytesIO(); Image.fromarray(arr).save(buf, format="PNG"); return buf.getvalue()


def random_bytes(seed: int, n: int = 4096) -> bytes:
    return np.random.RandomState(seed).bytes(n)


# ---- the tiny run folder: NADA on a 32 px generator and the tiny random CLIP (as tests/test_trainer.py), 4 iterations,
# stopped after 3 with a checkpoint every iteration: checkpoints step_000002.pt and step_000003.pt, not finished.
RUN_SETTING = dict(method="nada", source="photo", target="sketch", clip_model="tiny-random", iterations=4, checkpoint_every=1,
                   keep_checkpoints=2, n_samples=2, templates="single", progress=False, device="cpu")


def tiny_generator(seed: int = 0):
    torch.manual_seed(seed)
    return Generator.from_config({"arch": "stylegan2", "resolution": 32, "z_dim": 32, "w_dim": 32, "n_mapping": 2,
                                  "channel_base": 256, "channel_max": 32})


def run_training(out_dir: Path, stop_after: int | None = None):
    "Start or resume the tiny run in `out_dir` (the resume of a run folder, as tests/test_trainer.py does it)."
    return trainer.adapt(generator=tiny_generator(), clip=tiny_random_clip(), out_dir=str(out_dir), stop_after=stop_after, **RUN_SETTING)


def base_run() -> Path:
    def make():
        out = shared() / "run_template"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            run_training(out, stop_after=3)
        ckpts = sorted((out / "checkpoints").glob("step_*.pt"))
        assert [p.name for p in ckpts] == ["step_000002.pt", "step_000003.pt"], ckpts
        first = torch.load(ckpts[0], weights_only=True)["history"][0]["seconds"]
        return out, first
    return _once("run", make)[0]


def base_run_first_seconds() -> float:
    base_run(); return _SHARED["run"][1]


def copy_run(tmp: Path, name: str) -> Path:
    dst = tmp / f"myrun-{name}"
    shutil.copytree(base_run(), dst)
    return dst


def run_checkpoints(run: Path) -> list[Path]:
    return sorted((run / "checkpoints").glob("step_*.pt"))


# ----------------------------------------------------------------------------------------------- payloads
class Payload:
    "Pickles as the call `func(*args)` (a REDUCE); `func` may itself be a Payload, so calls chain."
    def __init__(self, func, args): self.func, self.args = func, args
    def __reduce__(self): return (self.func, self.args)
    def __call__(self, *a, **k): raise RuntimeError("a placeholder that only exists to be pickled")


def payload(kind: str, sentinel: Path) -> Payload:
    "An object whose unpickling creates `sentinel` by `kind`: os.system, eval, exec, subprocess.Popen or builtins.__import__."
    s = str(sentinel)
    if kind == "system": return Payload(os.system, (f"touch '{s}'",))
    if kind == "eval": return Payload(builtins.eval, (f"open({s!r}, 'w').close()",))
    if kind == "exec": return Payload(builtins.exec, (f"open({s!r}, 'w').close()",))
    if kind == "popen": return Payload(subprocess.Popen, (["touch", s],))
    if kind == "import":    # getattr(__import__('os'), 'system')('touch ...')
        return Payload(Payload(getattr, (Payload(builtins.__import__, ("os",)), "system")), (f"touch '{s}'",))
    raise ValueError(kind)


def protocol0_bytes(kind: str, sentinel: Path) -> bytes:
    "Hand-written protocol-0 pickles (text opcodes only), as an attacker would type them."
    s = str(sentinel)
    if kind == "system": return f"cos\nsystem\n(Vtouch {s}\ntR.".encode()
    if kind == "eval": return f"cbuiltins\neval\n(Vopen({s!r}, 'w').close()\ntR.".encode()
    if kind == "exec": return f"cbuiltins\nexec\n(Vopen({s!r}, 'w').close()\ntR.".encode()
    if kind == "popen": return f"csubprocess\nPopen\n((Vtouch\nV{s}\nltR.".encode()
    if kind == "import": return f"cbuiltins\ngetattr\n(cbuiltins\n__import__\n(Vos\ntRVsystem\ntR(Vtouch {s}\ntR.".encode()
    raise ValueError(kind)


PAYLOAD_KINDS = ("system", "eval", "exec", "popen", "import")


# ----------------------------------------------------------------------------------------------- editing helpers
def _poison_index(flat: torch.Tensor) -> int:
    "A deterministic element with 1e-3 < |x| < 1 (a flip of its top exponent bit then gives ~1e35..1e38, never 2.0)."
    a = flat.detach().float().abs()
    ok = ((a > 1e-3) & (a < 1)).nonzero()
    return int(ok[len(ok) // 2]) if len(ok) else 0


def poisoned(t: torch.Tensor, kind: str) -> torch.Tensor:
    "A copy of `t` with one element NaN, +Inf, -Inf or with the highest exponent bit flipped ('bitflip')."
    v = t.detach().clone().contiguous()
    flat = v.view(-1)
    i = _poison_index(flat)
    if kind == "nan": flat[i] = float("nan")
    elif kind == "inf": flat[i] = float("inf")
    elif kind == "-inf": flat[i] = float("-inf")
    elif kind == "bitflip":
        ints = {torch.float32: (torch.int32, 30), torch.float16: (torch.int16, 14), torch.float64: (torch.int64, 62)}
        itype, bit = ints[v.dtype]
        flat.view(itype)[i] ^= 1 << bit
    else: raise ValueError(kind)
    if isinstance(t, torch.nn.Parameter): return torch.nn.Parameter(v, requires_grad=t.requires_grad)
    return v


def st_read(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    with safe_open(str(path), framework="pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}, dict(f.metadata() or {})


def st_write(tensors: dict, meta: dict | None, path: Path) -> Path:
    tmp = path.with_name(path.name + ".writing")
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp), metadata=meta or None)
    os.replace(tmp, path)
    return path


DIGEST_KEY = re.compile(r"sha|digest|checksum", re.I)


def unsigned(meta: dict) -> dict:
    "`meta` without a checksum entry (as a file of another tool or an older air_nb has none)."
    return {k: v for k, v in meta.items() if not DIGEST_KEY.search(k)}


def saved_poisoned_generator(path: Path, key: str, kind: str, src: Path | None = None) -> Path:
    "Our .safetensors, written by `Generator.save`, of the generator of `src` (default: the rosinality fixture) with `key` poisoned."
    G = load_generator(src or G_RO)
    sd = G.state_dict(); sd[key].copy_(poisoned(sd[key], kind))
    try: return Path(G.save(path))
    except Exception:      # a save that refuses such weights: write the same file ourselves
        return st_write(sd, {"air_nb_config": json.dumps(G.config), "format": "pt"}, path)


def saved_poisoned_discriminator(path: Path, key: str, kind: str, half: bool) -> Path:
    "Our .safetensors, written by `save_discriminator`, of the rosinality fixture discriminator with `key` poisoned."
    D = load_discriminator(D_RO)
    sd = D.state_dict(); sd[key].copy_(poisoned(sd[key], kind))
    try: return Path(save_discriminator(D, path, half=half))
    except Exception:
        return st_write({k: v.half() if half else v for k, v in sd.items()}, {"air_nb_config": json.dumps(D.config)}, path)


def flip_bit_on_disk(src: Path, dst: Path, key: str) -> Path:
    "A copy of the .safetensors `src` with bit 30 of one float32 element of `key` flipped in the file's bytes (as a disk does)."
    b = bytearray(src.read_bytes()); n = struct.unpack("<Q", b[:8])[0]
    head = json.loads(b[8:8 + n]); info = head[key]
    assert info["dtype"] == "F32", info
    start = 8 + n + info["data_offsets"][0]
    values = torch.from_numpy(np.frombuffer(bytes(b[start:8 + n + info["data_offsets"][1]]), dtype=np.float32).copy())
    i = _poison_index(values)
    b[start + 4 * i + 3] ^= 1 << 6          # little endian: byte 3 holds bits 24..31; bit 30 is its bit 6
    return write(dst, bytes(b))


def st_edit(src: Path, dst: Path, tensors: Callable[[dict], Any] | None = None, meta: Callable[[dict], Any] | None = None,
            keep_checksum: bool = True) -> Path:
    "A copy of the .safetensors `src` with `tensors` edited in place and the metadata replaced by `meta(metadata)`; the checksum entry kept or dropped."
    t, m = st_read(src)
    if tensors: tensors(t)
    if meta: m = meta(dict(m))
    return st_write(t, m if keep_checksum else unsigned(m), dst)


def nv_edit(src: Path, dst: Path, edit: Callable[[Any], Any], module_src: str | None = None) -> Path:
    data = read_nvlabs_pickle(src)
    edit(data)
    return Path(write_nvlabs_pickle(data, dst, **({"module_src": module_src} if module_src is not None else {})))


def pt_edit(src: Path, dst: Path, edit: Callable[[Any], Any], legacy: bool = False) -> Path:
    "Load the torch file `src` (weights only), let `edit` change it in place (its return value is ignored), save it as `dst`."
    ckpt = torch.load(src, map_location="cpu", weights_only=True)
    edit(ckpt)
    torch.save(ckpt, dst, **({"_use_new_zipfile_serialization": False} if legacy else {}))
    return dst


def copy_as(src: Path, dst: Path) -> Path:
    shutil.copyfile(src, dst); return dst


def write(dst: Path, data: bytes) -> Path:
    dst.write_bytes(data); return dst


def truncated(src: Path, dst: Path, frac: float = 0.5) -> Path:
    b = Path(src).read_bytes(); return write(dst, b[: int(len(b) * frac)])


def symlink_loop(tmp: Path, name: str) -> Path:
    a, b = tmp / name, tmp / f"other-{name}"
    os.symlink(b.name, a); os.symlink(a.name, b)
    return a


def nv_param(standin, module: str, name: str, kind: str) -> None:
    "Poison the parameter or buffer `name` of the submodule `module` of an NVlabs stand-in."
    m = standin.module(module)
    for slot in ("_parameters", "_buffers"):
        if name in (m.state.get(slot) or {}): m.state[slot][name] = poisoned(m.state[slot][name], kind); return
    raise KeyError(f"{module}.{name}")


def state_has(obs: Observation, bad: Callable[[torch.Tensor], bool]) -> str:
    "'' when the loaded module holds a tensor for which `bad` is true (the poisoned weight survived), else why not."
    if not isinstance(obs.result, torch.nn.Module): return f"returned {type(obs.result).__name__}, not a module"
    sd = obs.result.state_dict()
    return "" if any(v.is_floating_point() and bool(bad(v.float())) for v in sd.values()) else "the poisoned value is gone from the loaded weights"


def is_module(obs: Observation) -> str:
    return "" if isinstance(obs.result, torch.nn.Module) else f"returned {type(obs.result).__name__}, not a module"


def _nonfinite(v: torch.Tensor) -> bool: return not bool(torch.isfinite(v).all())
def _implausible(v: torch.Tensor) -> bool: return _nonfinite(v) or bool((v.abs() > 1e30).any())


# ----------------------------------------------------------------------------------------------- readers under attack
def read_generator(**kw):
    def read(p): return load_generator(p, **kw)
    return read


def read_discriminator(**kw):
    def read(p): return load_discriminator(p, **kw)
    return read


def read_adm(name: str = "noattn", **kw):
    def read(p):
        flags, _ = adm_fixture(name)
        return load_guided_diffusion(p, **flags, **kw)
    return read


def read_target_images(shots: int = 2, size: int = 16):
    def read(p): return load_target_images(str(p), shots, size)
    return read


def read_config(p): return runs.read_config(p)


def config_from_run(p): return trainer.config_from_run(p)


def resume(p): return run_training(Path(p))


# ----------------------------------------------------------------------------------------------- the cases
CASES: list[Case] = []


def case(family: str, name: str, build, read, check, **kw) -> Case:
    c = Case(family, name, build, read, check, **kw)
    assert c.id not in {x.id for x in CASES}, c.id
    CASES.append(c); return c


def _sentinel(tmp: Path) -> Path: return tmp / SENTINEL


# ---- 1. malicious: code in pickles, torch files and NVlabs persistent objects ----------------------------------------
def _family_malicious():
    F = "malicious"
    for kind in PAYLOAD_KINDS:
        for proto in (0, 2, 5):
            def build(tmp, kind=kind, proto=proto):
                s = _sentinel(tmp)
                data = protocol0_bytes(kind, s) if proto == 0 else pickle.dumps({"G_ema": payload(kind, s)}, protocol=proto)
                return write(tmp / f"evil-p{proto}-{kind}.pkl", data)
            case(F, f"pickle-p{proto}-{kind}-generator", build, read_generator(), refusal(), slow_payload=kind == "popen")
    for kind, proto in (("system", 2), ("exec", 5), ("popen", 0), ("import", 0)):
        def build(tmp, kind=kind, proto=proto):
            s = _sentinel(tmp)
            data = protocol0_bytes(kind, s) if proto == 0 else pickle.dumps({"D": payload(kind, s)}, protocol=proto)
            return write(tmp / f"evil-d-p{proto}-{kind}.pkl", data)
        case(F, f"pickle-p{proto}-{kind}-discriminator", build, read_discriminator(), refusal(), slow_payload=kind == "popen")
    # a bare pickle named .pt: torch's legacy reader meets it
    for reader, rname in ((read_generator(), "generator"), (read_discriminator(), "discriminator"), (read_adm(), "adm")):
        for kind, proto in (("system", 2), ("eval", 0)):
            def build(tmp, kind=kind, proto=proto):
                s = _sentinel(tmp)
                data = protocol0_bytes(kind, s) if proto == 0 else pickle.dumps(payload(kind, s), protocol=proto)
                return write(tmp / f"evil-bare-p{proto}-{kind}.pt", data)
            case(F, f"bare-pickle-p{proto}-{kind}-as-pt-{rname}", build, reader, refusal())
    # torch.save zip files and torch's legacy (non-zip) format
    for legacy in (False, True):
        fmt = "legacy" if legacy else "zip"
        for reader, rname, key in ((read_generator(), "generator", "g_ema"), (read_discriminator(), "discriminator", "d"),
                                   (read_adm(), "adm", "input_blocks.0.0.weight")):
            for kind in (("system", "popen", "import") if not legacy else ("eval", "exec")):
                def build(tmp, kind=kind, key=key, legacy=legacy, fmt=fmt, rname=rname):
                    p = tmp / f"evil-torch-{fmt}-{kind}-{rname}.pt"
                    torch.save({key: payload(kind, _sentinel(tmp)), "latent_avg": torch.zeros(2)}, p,
                               **({"_use_new_zipfile_serialization": False} if legacy else {}))
                    return p
                case(F, f"torch-{fmt}-{kind}-{rname}", build, reader, refusal(), slow_payload=kind == "popen")
    # a payload hidden in an otherwise genuine rosinality checkpoint (next to the real tensors)
    def build(tmp):
        return pt_edit(G_RO, tmp / "evil-extra-entry.pt", lambda c: c.__setitem__("args", payload("system", _sentinel(tmp))))
    case(F, "torch-zip-extra-entry-in-genuine-rosinality", build, read_generator(), refusal())
    # NVlabs layout: a payload in a persistent object's state
    def build(tmp):
        return nv_edit(G_NV, tmp / "evil-state.pkl", lambda d: d["G_ema"].state.__setitem__("evil", payload("system", _sentinel(tmp))))
    case(F, "nvlabs-state-payload-generator", build, read_generator(), refusal())
    def build(tmp):
        return nv_edit(G_NV, tmp / "evil-sub-state.pkl",
                       lambda d: d["G_ema"].module("synthesis.b8").state.__setitem__("evil", payload("exec", _sentinel(tmp))))
    case(F, "nvlabs-submodule-state-payload-generator", build, read_generator(), refusal())
    def build(tmp):
        return nv_edit(D_NV, tmp / "evil-d-state.pkl", lambda d: d["D"].state.__setitem__("evil", payload("import", _sentinel(tmp))))
    case(F, "nvlabs-state-payload-discriminator", build, read_discriminator(), refusal())
    def build(tmp):
        return nv_edit(G_NV, tmp / "evil-augment.pkl", lambda d: d.__setitem__("augment_pipe", payload("eval", _sentinel(tmp))))
    case(F, "nvlabs-payload-in-augment-pipe-entry", build, read_generator(), refusal())
    # module_src holding code: every genuine NVlabs pickle carries its module source; it must be kept and never run
    # (tests/test_generators.py and test_discriminators.py load such files), so these cases must LOAD, sentinel absent.
    code = "import os\nos.system('touch {s}')\nopen({s!r}, 'w').close()\n"
    def build(tmp):
        return nv_edit(G_NV, tmp / "module-src.pkl", lambda d: None, module_src=code.format(s=str(_sentinel(tmp))))
    case(F, "nvlabs-module-src-code-generator-loads-not-runs", build, read_generator(), loads(is_module))
    def build(tmp):
        return nv_edit(D_NV, tmp / "module-src-d.pkl", lambda d: None, module_src=code.format(s=str(_sentinel(tmp))))
    case(F, "nvlabs-module-src-code-discriminator-loads-not-runs", build, read_discriminator(), loads(is_module))
    def build(tmp):
        return nv_edit(G_NV, tmp / "module-src-and-state.pkl", lambda d: d["G_ema"].state.__setitem__("evil", payload("system", _sentinel(tmp))),
                       module_src=code.format(s=str(_sentinel(tmp))))
    case(F, "nvlabs-module-src-code-and-state-payload", build, read_generator(), refusal())


# ---- 2. structure of NVlabs pickles --------------------------------------------------------------------------------
def _edited_file_cases(family: str, kind: str, edits: dict, editor, fixture, stem: str, suffix: str, read):
    "One refusal case per edit: `editor(fixture, tmp/<stem>-<name><suffix>, edit)` read by `read`."
    for name, edit in edits.items():
        def build(tmp, edit=edit, name=name):
            return editor(fixture, tmp / f"{stem}-{name}{suffix}", edit)
        case(family, f"{kind}-{name}", build, read, refusal())


def _family_nvlabs():
    F = "nvlabs-structure"
    G = lambda d: d["G_ema"]
    D = lambda d: d["D"]
    edits_g = {
        "missing-synthesis": lambda d: G(d).state["_modules"].pop("synthesis"),
        "missing-mapping": lambda d: G(d).state["_modules"].pop("mapping"),
        "missing-b4-conv1-weight": lambda d: G(d).module("synthesis.b4.conv1").state["_parameters"].pop("weight"),
        "missing-img-resolution": lambda d: G(d).state.pop("img_resolution"),
        "missing-z-dim": lambda d: G(d).state.pop("z_dim"),
        "img-resolution-a-string": lambda d: G(d).state.__setitem__("img_resolution", "thirty-two"),
        "modules-a-list": lambda d: G(d).state.__setitem__("_modules", list(G(d).state["_modules"].values())),
        "synthesis-modules-a-list": lambda d: G(d).module("synthesis").state.__setitem__("_modules", list(G(d).module("synthesis").state["_modules"].values())),
        "parameters-a-list": lambda d: G(d).module("synthesis.b8.conv0").state.__setitem__("_parameters", [1, 2]),
        "wrong-shape-conv-weight": lambda d: G(d).module("synthesis.b8.conv0").state["_parameters"].__setitem__("weight", torch.nn.Parameter(torch.randn(32, 32, 3, 2))),
        "wrong-shape-mapping-weight": lambda d: G(d).module("mapping.fc1").state["_parameters"].__setitem__("weight", torch.nn.Parameter(torch.randn(32, 31))),
        "weight-a-string": lambda d: G(d).module("synthesis.b8.conv0").state["_parameters"].__setitem__("weight", "not a tensor"),
        "g-ema-a-dict": lambda d: d.__setitem__("G_ema", {"z_dim": 32}),
        "g-ema-missing": lambda d: d.pop("G_ema"),
        "missing-num-layers": lambda d: G(d).module("mapping").state.pop("num_layers"),
    }
    _edited_file_cases(F, "generator", edits_g, nv_edit, G_NV, "nv", ".pkl", read_generator())
    def build(tmp):
        return Path(write_nvlabs_pickle([1, 2, 3], tmp / "nv-top-level-list.pkl"))
    case(F, "generator-top-level-a-list", build, read_generator(), refusal())
    edits_d = {
        "missing-block-resolutions": lambda d: D(d).state.pop("block_resolutions"),
        "missing-img-resolution": lambda d: D(d).state.pop("img_resolution"),
        "missing-b4-conv-weight": lambda d: D(d).module("b4.conv").state["_parameters"].pop("weight"),
        "missing-b16-conv0-weight": lambda d: D(d).module("b16.conv0").state["_parameters"].pop("weight"),
        "missing-mbstd": lambda d: D(d).module("b4").state["_modules"].pop("mbstd"),
        "modules-a-list": lambda d: D(d).state.__setitem__("_modules", list(D(d).state["_modules"].values())),
        "block-resolutions-not-a-list": lambda d: D(d).state.__setitem__("block_resolutions", 32),
        "block-resolutions-unknown-block": lambda d: D(d).state.__setitem__("block_resolutions", [64, 32, 16, 8]),
        "wrong-shape-conv-weight": lambda d: D(d).module("b16.conv1").state["_parameters"].__setitem__("weight", torch.nn.Parameter(torch.randn(8, 8, 2, 3))),
        "d-missing": lambda d: d.pop("D"),
    }
    _edited_file_cases(F, "discriminator", edits_d, nv_edit, D_NV, "nvd", ".pkl", read_discriminator())


# ---- 3. rosinality .pt -----------------------------------------------------------------------------------------------
def _family_rosinality():
    F = "rosinality-structure"
    g = {
        "wrong-shape-conv": lambda c: c["g_ema"].__setitem__("conv1.conv.weight", torch.randn(1, 31, 32, 3, 3)),
        "wrong-shape-modulation": lambda c: c["g_ema"].__setitem__("convs.0.conv.modulation.weight", torch.randn(32, 33)),
        "wrong-shape-latent-avg": lambda c: c.__setitem__("latent_avg", torch.randn(33)),
        "missing-modulation": lambda c: c["g_ema"].pop("conv1.conv.modulation.weight"),
        "missing-input": lambda c: c["g_ema"].pop("input.input"),
        "missing-style-1": lambda c: c["g_ema"].pop("style.1.weight"),
        "extra-layers-without-to-rgb": lambda c: c["g_ema"].update({f"convs.{i}.{k}": v.clone() for i in (6, 7) for k, v in c["g_ema"].items()
                                                                    if k.startswith(f"convs.{i - 2}.")}),
        "g-ema-a-list": lambda c: c.__setitem__("g_ema", [1, 2, 3]),
        "g-ema-a-tensor": lambda c: c.__setitem__("g_ema", torch.zeros(3)),
        "g-ema-a-string": lambda c: c.__setitem__("g_ema", "weights"),
        "value-a-string": lambda c: c["g_ema"].__setitem__("conv1.conv.weight", "not a tensor"),
        "g-ema-missing": lambda c: c.pop("g_ema"),
    }
    _edited_file_cases(F, "generator", g, pt_edit, G_RO, "ro", ".pt", read_generator())
    def build(tmp):
        p = tmp / "ro-top-level-a-list.pt"; torch.save([torch.load(G_RO, weights_only=True)["g_ema"]], p); return p
    case(F, "generator-top-level-a-list", build, read_generator(), refusal())
    d = {
        "wrong-shape-conv": lambda c: c["d"].__setitem__("convs.1.conv1.0.weight", torch.randn(32, 16, 3, 2)),
        "wrong-shape-final-linear": lambda c: c["d"].__setitem__("final_linear.0.weight", torch.randn(32, 7)),
        "missing-key": lambda c: c["d"].pop("convs.2.conv1.1.bias"),
        "missing-from-rgb": lambda c: c["d"].pop("convs.0.0.weight"),
        "d-a-list": lambda c: c.__setitem__("d", [1, 2]),
        "d-a-tensor": lambda c: c.__setitem__("d", torch.zeros(2)),
        "value-a-list": lambda c: c["d"].__setitem__("convs.1.conv2.1.weight", [1.0, 2.0]),
        "d-missing": lambda c: c.pop("d"),
    }
    _edited_file_cases(F, "discriminator", d, pt_edit, D_RO, "rod", ".pt", read_discriminator())


# ---- 4. our .safetensors -------------------------------------------------------------------------------------------
def _family_safetensors():
    F = "safetensors"
    def meta_cfg(change):
        def edit(m):
            cfg = json.loads(m["air_nb_config"]); out = change(cfg)
            m["air_nb_config"] = json.dumps(cfg if out is None else out); return m
        return edit
    gen = {
        "wrong-shape": dict(tensors=lambda t: t.__setitem__("b4.conv1.weight", torch.randn(32, 32, 3, 2))),
        "missing-tensor": dict(tensors=lambda t: t.pop("b8.conv0.weight")),
        "extra-tensor": dict(tensors=lambda t: t.__setitem__("b8.extra.weight", torch.zeros(3))),
        "config-extra-argument": dict(meta=meta_cfg(lambda c: c.__setitem__("surprise", 1))),
        "config-a-json-list": dict(meta=lambda m: {**m, "air_nb_config": json.dumps([1, 2, 3])}),
        "config-a-json-string": dict(meta=lambda m: {**m, "air_nb_config": json.dumps("stylegan2")}),
        "config-invalid-json": dict(meta=lambda m: {**m, "air_nb_config": '{"arch": "stylegan2", "resolution": 32,'}),
        "config-unknown-arch": dict(meta=meta_cfg(lambda c: c.__setitem__("arch", "os"))),
        "config-resolution-a-string": dict(meta=meta_cfg(lambda c: c.__setitem__("resolution", "big"))),
        "config-resolution-mismatch": dict(meta=meta_cfg(lambda c: c.__setitem__("resolution", 64))),
        "metadata-missing": dict(meta=lambda m: {}),
        "config-key-missing": dict(meta=lambda m: {k: v for k, v in m.items() if k != "air_nb_config"}),
    }
    for name, kw in gen.items():
        def build(tmp, kw=kw, name=name):
            return st_edit(base_g_safetensors(), tmp / f"st-{name}.safetensors", **kw)
        case(F, f"generator-{name}", build, read_generator(), refusal())
    # the tensor edits again without the checksum entry, so the layout checks (not the checksum) meet them
    for name in ("wrong-shape", "missing-tensor", "extra-tensor"):
        def build(tmp, kw=gen[name], name=name):
            return st_edit(base_g_safetensors(), tmp / f"st-{name}-unsigned.safetensors", keep_checksum=False, **kw)
        case(F, f"generator-{name}-without-checksum", build, read_generator(), refusal())
    def build(tmp): return flip_bit_on_disk(base_g_safetensors(), tmp / "st-bit-flipped-on-disk.safetensors", "b8.conv0.weight")
    case(F, "generator-bit-flipped-on-disk", build, read_generator(), refusal())
    def build(tmp): return truncated(base_g_safetensors(), tmp / "st-truncated.safetensors")
    case(F, "generator-truncated", build, read_generator(), refusal())
    def build(tmp): return truncated(base_g_safetensors(), tmp / "st-truncated-in-header.safetensors", 0.0005)
    case(F, "generator-truncated-in-header", build, read_generator(), refusal())
    def build(tmp):
        b = bytearray(base_g_safetensors().read_bytes()); n = struct.unpack("<Q", b[:8])[0]
        b[8:8 + n] = random_bytes(7, n).replace(b"\x00", b"x")
        return write(tmp / "st-header-garbage.safetensors", bytes(b))
    case(F, "generator-header-garbage", build, read_generator(), refusal())
    def build(tmp):
        b = base_g_safetensors().read_bytes()
        return write(tmp / "st-header-length-huge.safetensors", struct.pack("<Q", 2**62) + b[8:])
    case(F, "generator-header-length-huge", build, read_generator(), refusal())
    def build(tmp):
        b = bytearray(base_g_safetensors().read_bytes()); n = struct.unpack("<Q", b[:8])[0]
        head = json.loads(b[8:8 + n]); k = "b4.conv1.weight"; s, e = head[k]["data_offsets"]
        head[k]["data_offsets"] = [s, e + 10**9]            # an offset past the end of the file
        new = json.dumps(head).encode(); new += b" " * ((8 - len(new) % 8) % 8)
        return write(tmp / "st-offsets-past-end.safetensors", struct.pack("<Q", len(new)) + new + bytes(b[8 + n:]))
    case(F, "generator-data-offsets-past-end", build, read_generator(), refusal())
    dis = {
        "wrong-shape": dict(tensors=lambda t: t.__setitem__("blocks.0.conv0.weight", torch.zeros(16, 16, 3, 2, dtype=torch.float16))),
        "missing-tensor": dict(tensors=lambda t: t.pop("blocks.0.conv0.weight")),
        "config-extra-argument": dict(meta=meta_cfg(lambda c: c.__setitem__("surprise", 1))),
        "config-a-json-list": dict(meta=lambda m: {**m, "air_nb_config": json.dumps([1, 2])}),
        "config-invalid-json": dict(meta=lambda m: {**m, "air_nb_config": "{not json"}),
        "metadata-missing": dict(meta=lambda m: {}),
    }
    for name, kw in dis.items():
        def build(tmp, kw=kw, name=name):
            return st_edit(base_d_safetensors(), tmp / f"std-{name}.safetensors", **kw)
        case(F, f"discriminator-{name}", build, read_discriminator(), refusal())
    def build(tmp):
        return st_edit(base_d_safetensors(), tmp / "std-wrong-shape-unsigned.safetensors", keep_checksum=False, **dis["wrong-shape"])
    case(F, "discriminator-wrong-shape-without-checksum", build, read_discriminator(), refusal())
    def build(tmp): return flip_bit_on_disk(base_d_safetensors(half=False), tmp / "std-bit-flipped-on-disk.safetensors", "blocks.0.conv0.weight")
    case(F, "discriminator-bit-flipped-on-disk", build, read_discriminator(), refusal())
    def build(tmp): return truncated(base_d_safetensors(), tmp / "std-truncated.safetensors")
    case(F, "discriminator-truncated", build, read_discriminator(), refusal())
    def build(tmp):
        b = bytearray(base_d_safetensors().read_bytes()); n = struct.unpack("<Q", b[:8])[0]
        b[8:8 + n] = random_bytes(8, n).replace(b"\x00", b"x")
        return write(tmp / "std-header-garbage.safetensors", bytes(b))
    case(F, "discriminator-header-garbage", build, read_discriminator(), refusal())


# ---- 5. wrong format for the suffix ---------------------------------------------------------------------------------
def _family_wrong_format():
    F = "wrong-format"
    G, Dr, A = read_generator(), read_discriminator(), read_adm()
    readers = {"generator": G, "discriminator": Dr, "adm": A}
    # random bytes
    for rname, suffixes in (("generator", (".pkl", ".pt", ".safetensors")), ("discriminator", (".pkl", ".pt", ".safetensors")), ("adm", (".pt",))):
        for i, suf in enumerate(suffixes):
            def build(tmp, suf=suf, i=i, rname=rname):
                return write(tmp / f"random-{rname}{suf}", random_bytes(100 + i))
            case(F, f"random-bytes{suf}-{rname}", build, readers[rname], refusal())
    # a file of one reader's format under another reader's suffix: the message says to rename it
    renames = [
        ("generator", lambda: base_g_safetensors(), ".pt", "safetensors-as-pt"),
        ("generator", lambda: base_g_safetensors(), ".pkl", "safetensors-as-pkl"),
        ("generator", lambda: G_RO, ".pkl", "rosinality-pt-as-pkl"),
        ("generator", lambda: G_RO, ".safetensors", "rosinality-pt-as-safetensors"),
        ("generator", lambda: G_NV, ".pt", "nvlabs-pkl-as-pt"),
        ("generator", lambda: G_NV, ".safetensors", "nvlabs-pkl-as-safetensors"),
        ("discriminator", lambda: base_d_safetensors(), ".pt", "safetensors-as-pt"),
        ("discriminator", lambda: D_RO, ".pkl", "rosinality-pt-as-pkl"),
        ("discriminator", lambda: D_NV, ".pt", "nvlabs-pkl-as-pt"),
        ("discriminator", lambda: D_RO, ".safetensors", "rosinality-pt-as-safetensors"),
    ]
    for rname, src, suf, name in renames:
        def build(tmp, src=src, suf=suf, name=name):
            return copy_as(src(), tmp / f"moved-{name}{suf}")
        case(F, f"{name}-{rname}", build, readers[rname], refusal(words=("rename",)))
    # TorchScript
    for rname in ("generator", "discriminator", "adm"):
        def build(tmp, rname=rname): return copy_as(torchscript_file(), tmp / f"script-{rname}.pt")
        case(F, f"torchscript-pt-{rname}", build, readers[rname], refusal(words=("torchscript",)))
    # empty files
    for rname, suffixes in (("generator", (".pkl", ".pt", ".safetensors")), ("discriminator", (".pkl", ".pt", ".safetensors")), ("adm", (".pt",))):
        for suf in suffixes:
            def build(tmp, suf=suf, rname=rname): return write(tmp / f"zero-{rname}{suf}", b"")
            case(F, f"empty{suf}-{rname}", build, readers[rname], refusal(words=("empty",)))
    # a PNG under a weights suffix
    for rname, suf in (("generator", ".pt"), ("generator", ".pkl"), ("generator", ".safetensors"), ("discriminator", ".pt"), ("adm", ".pt")):
        def build(tmp, suf=suf, rname=rname): return write(tmp / f"picture-{rname}{suf}", png_bytes())
        case(F, f"png-as{suf}-{rname}", build, readers[rname], refusal())
    # a folder where a file is expected
    def build(tmp):
        d = tmp / "plain-folder"; d.mkdir(); (d / "notes.txt").write_text("not a run"); return d
    case(F, "plain-folder-generator", build, G, refusal(words=("run folder",)))
    for rname, suf in (("discriminator", ".pt"), ("discriminator", ".safetensors"), ("discriminator", ".pkl"), ("adm", ".pt")):
        def build(tmp, suf=suf, rname=rname):
            d = tmp / f"folder-{rname}{suf}"; d.mkdir(); return d
        case(F, f"folder-named{suf}-{rname}", build, readers[rname], refusal())
    # symlink loops
    for rname, suf in (("generator", ".pt"), ("generator", ".pkl"), ("generator", ".safetensors"), ("generator", ""),
                       ("discriminator", ".pt"), ("discriminator", ".safetensors"), ("adm", ".pt")):
        def build(tmp, suf=suf, rname=rname): return symlink_loop(tmp, f"loop-{rname}{suf}")
        case(F, f"symlink-loop{suf or '-no-suffix'}-{rname}", build, readers[rname], refusal(words=("symlink",)))
    # NaN in a blur / resample filter: not a weight the model learns, but a tensor of the file all the same
    def build(tmp):
        return pt_edit(G_RO, tmp / "ro-nan-blur.pt", lambda c: c["g_ema"].__setitem__("convs.0.conv.blur.kernel", poisoned(c["g_ema"]["convs.0.conv.blur.kernel"], "nan")))
    case(F, "nan-in-blur-kernel-rosinality-generator", build, G, refusal(words=NONFINITE_WORDS))
    def build(tmp):
        return pt_edit(G_RO, tmp / "ro-inf-upsample.pt", lambda c: c["g_ema"].__setitem__("to_rgbs.0.upsample.kernel", poisoned(c["g_ema"]["to_rgbs.0.upsample.kernel"], "inf")))
    case(F, "inf-in-upsample-kernel-rosinality-generator", build, G, refusal(words=NONFINITE_WORDS))
    def build(tmp):
        return pt_edit(D_RO, tmp / "rod-nan-blur.pt", lambda c: c["d"].__setitem__("convs.1.conv2.0.kernel", poisoned(c["d"]["convs.1.conv2.0.kernel"], "nan")))
    case(F, "nan-in-blur-kernel-rosinality-discriminator", build, Dr, refusal(words=NONFINITE_WORDS))
    def build(tmp): return nv_edit(G_NV, tmp / "nv-nan-filter.pkl", lambda d: nv_param(d["G_ema"], "synthesis.b8.conv0", "resample_filter", "nan"))
    case(F, "nan-in-resample-filter-nvlabs-generator", build, G, refusal(words=NONFINITE_WORDS))
    def build(tmp): return nv_edit(D_NV, tmp / "nvd-nan-filter.pkl", lambda d: nv_param(d["D"], "b16.conv0", "resample_filter", "nan"))
    case(F, "nan-in-resample-filter-nvlabs-discriminator", build, Dr, refusal(words=NONFINITE_WORDS))


# ---- 6. non-finite and bit-flipped weights --------------------------------------------------------------------------
POISON_KINDS = ("nan", "inf", "-inf", "bitflip")


def _poison_builders() -> dict[str, tuple[Callable[[Path, str], Path], Callable]]:
    "format -> (build(tmp, kind), reader factory(**kw))."
    def g_st(tmp, kind):    # a generator whose weights went bad before Generator.save wrote them (its checksum matches)
        return saved_poisoned_generator(tmp / f"g-{kind}.safetensors", "b8.conv0.weight", kind)
    def g_nv(tmp, kind):
        return nv_edit(G_NV, tmp / f"g-{kind}.pkl", lambda d: nv_param(d["G_ema"], "synthesis.b8.conv0", "weight", kind))
    def g_ro(tmp, kind):
        return pt_edit(G_RO, tmp / f"g-{kind}.pt", lambda c: c["g_ema"].__setitem__("convs.0.conv.weight", poisoned(c["g_ema"]["convs.0.conv.weight"], kind)))
    def d_nv(tmp, kind):
        return nv_edit(D_NV, tmp / f"d-{kind}.pkl", lambda d: nv_param(d["D"], "b16.conv0", "weight", kind))
    def d_ro(tmp, kind):
        return pt_edit(D_RO, tmp / f"d-{kind}.pt", lambda c: c["d"].__setitem__("convs.1.conv1.0.weight", poisoned(c["d"]["convs.1.conv1.0.weight"], kind)))
    def d_st(tmp, kind):       # float16 as save_discriminator writes; the bit flip in a float32 file (bit 30)
        return saved_poisoned_discriminator(tmp / f"d-{kind}.safetensors", "blocks.0.conv0.weight", kind, half=kind != "bitflip")
    def adm(tmp, kind):
        _, sd = adm_fixture("noattn"); k = "input_blocks.0.0.weight"; sd[k] = poisoned(sd[k], kind)
        p = tmp / f"adm-{kind}.pt"; torch.save(sd, p); return p
    return {"generator-safetensors": (g_st, read_generator), "generator-nvlabs": (g_nv, read_generator),
            "generator-rosinality": (g_ro, read_generator), "discriminator-nvlabs": (d_nv, read_discriminator),
            "discriminator-rosinality": (d_ro, read_discriminator), "discriminator-safetensors": (d_st, read_discriminator),
            "adm": (adm, read_adm)}


def _family_nonfinite():
    F = "non-finite"
    for fmt, (build_fmt, reader) in _poison_builders().items():
        for kind in POISON_KINDS:
            def build(tmp, kind=kind, build_fmt=build_fmt): return build_fmt(tmp, kind)
            case(F, f"{kind}-{fmt}", build, reader(), refusal(words=NONFINITE_WORDS))
        for kind in ("nan", "bitflip"):
            def build(tmp, kind=kind, build_fmt=build_fmt): return build_fmt(tmp, kind)
            bad = _nonfinite if kind == "nan" else _implausible
            case(F, f"{kind}-{fmt}-allow-nonfinite-loads", build, reader(allow_nonfinite=True), loads(lambda o, bad=bad: state_has(o, bad)))
    # buffers and the averaged latent are weights of the file too
    def build(tmp):
        return saved_poisoned_generator(tmp / "g-inf-w-avg.safetensors", "w_avg", "inf")
    case(F, "inf-w-avg-generator-safetensors", build, read_generator(), refusal(words=NONFINITE_WORDS))
    def build(tmp):
        return pt_edit(G_RO, tmp / "g-nan-latent-avg.pt", lambda c: c.__setitem__("latent_avg", poisoned(c["latent_avg"], "nan")))
    case(F, "nan-latent-avg-generator-rosinality", build, read_generator(), refusal(words=NONFINITE_WORDS))
    def build(tmp):
        return pt_edit(G_RO, tmp / "g-nan-noise.pt", lambda c: c["g_ema"].__setitem__("noises.noise_1", poisoned(c["g_ema"]["noises.noise_1"], "nan")))
    case(F, "nan-stored-noise-generator-rosinality", build, read_generator(), refusal(words=NONFINITE_WORDS))
    def build(tmp):
        return nv_edit(G_NV, tmp / "g-nan-w-avg.pkl", lambda d: nv_param(d["G_ema"], "mapping", "w_avg", "nan"))
    case(F, "nan-w-avg-generator-nvlabs", build, read_generator(), refusal(words=NONFINITE_WORDS))
    def build(tmp):
        _, sd = adm_fixture("attn"); k = sorted(k for k in sd if k.endswith("qkv.weight"))[0]; sd[k] = poisoned(sd[k], "bitflip")
        p = tmp / "adm-attn-bitflip.pt"; torch.save(sd, p); return p
    case(F, "bitflip-attention-adm", build, read_adm("attn"), refusal(words=NONFINITE_WORDS))
    def build(tmp):
        _, sd = adm_fixture("noattn"); k = "out.2.weight"; sd[k] = poisoned(sd[k], "nan")
        p = tmp / "adm-half-nan.pt"; torch.save({k2: v.half() for k2, v in sd.items()}, p); return p
    case(F, "nan-half-precision-adm", build, read_adm(), refusal(words=NONFINITE_WORDS))


# ---- 7. run folders -------------------------------------------------------------------------------------------------
def _family_runs():
    F = "run-folder"
    def ck(run): return run_checkpoints(run)
    def with_config(text: str | None, name: str):
        def build(tmp):
            run = copy_run(tmp, name)
            if text is None: (run / "config.json").unlink()
            else: (run / "config.json").write_text(text)
            return run
        return build
    configs = {"config-invalid-json": '{"format": 3, "run": {"method": "nada",', "config-a-list": '[1, 2, 3]',
               "config-null": "null", "config-binary": random_bytes(3, 64).decode("latin1"),
               "config-run-a-list": json.dumps({"format": 3, "run": [1], "method_config": {}, "resolved": {}}),
               "config-future-format": json.dumps({"format": 99, "run": {}, "method_config": {}})}
    cfg_name = lambda run: ("config.json", Path(run).name)
    for name, text in configs.items():
        case(F, f"{name}-read-config", with_config(text, name), read_config, refusal(name=cfg_name))
        case(F, f"{name}-resume", with_config(text, name), resume, refusal(name=cfg_name), protect=ck)
    case(F, "config-empty-read-config", with_config("", "cfg-zero"), read_config, refusal(words=("empty",), name=cfg_name))
    case(F, "config-empty-resume", with_config("", "cfg-zero"), resume, refusal(words=("empty",), name=cfg_name), protect=ck)
    case(F, "config-invalid-json-config-from-run", with_config('{"run": ', "cfr-invalid"), config_from_run, refusal(name=cfg_name))
    case(F, "config-unknown-method-config-from-run",
         with_config(json.dumps({"format": 3, "run": {"method": "no-such-method"}, "method_config": {}, "resolved": {}}), "cfr-method"),
         config_from_run, refusal(name=cfg_name))
    case(F, "config-field-wrong-type-config-from-run",
         with_config(json.dumps({"format": 3, "run": {"method": "nada", "iterations": "many"}, "method_config": {}, "resolved": {}}), "cfr-type"),
         config_from_run, refusal(name=cfg_name))
    # config.json missing while checkpoints are there: refuse, name the folder, keep the checkpoints
    case(F, "config-missing-with-checkpoints-resume", with_config(None, "nocfg"), resume, refusal(), protect=ck)
    case(F, "config-missing-read-config", with_config(None, "nocfg-read"), read_config, refusal(words=("run folder",)))
    def build(tmp):
        d = tmp / "plain-folder"; d.mkdir(); (d / "notes.txt").write_text("hello"); return d
    case(F, "plain-folder-read-config", build, read_config, refusal(words=("run folder",)))
    case(F, "plain-folder-config-from-run", build, config_from_run, refusal(words=("run folder",)))

    # a damaged newest checkpoint with an intact older one: resume goes on from the older one, with a warning naming it
    def _zero_shaped_generator(p: Path, tmp: Path):
        c = torch.load(p, weights_only=True)
        c["generator"] = {k: torch.zeros(1) for k in c["generator"]}
        torch.save(c, p)
    def damaged(name: str, damage: Callable[[Path, Path], None]):
        def build(tmp):
            run = copy_run(tmp, name); newest = run_checkpoints(run)[-1]
            damage(newest, tmp); return run
        return build
    def resumed_from_intact(bad: str = "step_000003.pt"):
        def verify(obs: Observation) -> str:
            r = obs.result
            if getattr(r, "history", None) is None or len(r.history) != RUN_SETTING["iterations"]: return "the run did not finish its iterations"
            if r.history[0].get("seconds") != base_run_first_seconds(): return "the run started over instead of resuming from the intact checkpoint"
            if not any(bad in w for w in obs.warnings): return f"no warning names the damaged {bad}"
            return ""
        return verify
    damages = {
        "truncated": lambda p, tmp: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]),
        "empty": lambda p, tmp: p.write_bytes(b""),
        "random-bytes": lambda p, tmp: p.write_bytes(random_bytes(11, 2048)),
        "malicious": lambda p, tmp: torch.save({"format": 2, "step": 3, "generator": payload("system", _sentinel(tmp))}, p),
        "malicious-legacy": lambda p, tmp: torch.save({"step": 3, "ema": payload("exec", _sentinel(tmp))}, p, _use_new_zipfile_serialization=False),
        "wrong-keys": lambda p, tmp: torch.save({"weights": {"a": torch.zeros(2)}, "epoch": 3}, p),
        "missing-ema": lambda p, tmp: torch.save({k: v for k, v in torch.load(p, weights_only=True).items() if k != "ema"}, p),
        "a-list": lambda p, tmp: torch.save([1, 2, 3], p),
        "wrong-shapes": _zero_shaped_generator,
    }
    for name, damage in damages.items():
        case(F, f"newest-checkpoint-{name}-resumes-from-older", damaged(name, damage), resume, loads(resumed_from_intact()))
    # every checkpoint damaged: refuse (nothing to resume from), keep them, name the run folder
    def build(tmp):
        run = copy_run(tmp, "allbad")
        for p in run_checkpoints(run): p.write_bytes(p.read_bytes()[:100])
        return run
    case(F, "all-checkpoints-truncated-resume", build, resume, refusal(), protect=ck)
    # stale temporaries of interrupted atomic writes: removed when the run starts again
    def build(tmp):
        run = copy_run(tmp, "stale")
        for p in (run / "checkpoints" / ".step_000004.pt.k2j3h4.tmp", run / ".config.json.a8b9c0.tmp",
                  run / ".generator_ema.safetensors.x1y2z3.tmp", run / "samples" / ".step_000004.png.q9w8e7.tmp"):
            p.write_bytes(random_bytes(5, 256))
        return run
    def no_temporaries(obs: Observation) -> str:
        left = [p.name for p in Path(obs.target).rglob(".*.tmp")]
        if left: return f"stale temporaries left: {left}"
        r = obs.result
        if getattr(r, "history", None) is None or len(r.history) != RUN_SETTING["iterations"]: return "the run did not finish"
        if r.history[0].get("seconds") != base_run_first_seconds(): return "the run started over instead of resuming"
        return ""
    case(F, "stale-tmp-files-removed-on-resume", build, resume, loads(no_temporaries))
    # a finished run's generator file damaged: load_generator(run folder) refuses, naming the file
    def finished(name, damage):
        def build(tmp):
            run = copy_run(tmp, name)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore"); run_training(run)
            damage(run / "generator_ema.safetensors", tmp); return run
        return build
    gname = lambda run: ("generator_ema.safetensors",)
    case(F, "finished-run-generator-truncated", finished("gen-trunc", lambda p, tmp: p.write_bytes(p.read_bytes()[:len(p.read_bytes()) // 3])),
         read_generator(), refusal(name=gname))
    case(F, "finished-run-generator-empty", finished("gen-zero", lambda p, tmp: p.write_bytes(b"")), read_generator(),
         refusal(words=("empty",), name=gname))
    case(F, "finished-run-generator-nan", finished("gen-nan", lambda p, tmp: saved_poisoned_generator(p, "b4.conv1.weight", "nan", src=p)),
         read_generator(), refusal(words=NONFINITE_WORDS, name=gname))


# ---- 8. few-shot image folders --------------------------------------------------------------------------------------
def _family_fewshot():
    F = "few-shot"
    def folder(name: str, extra: dict[str, Any], good: int = 3):
        "A folder of `good` valid PNGs (a.png, b.png, ...) plus `extra` files (bytes, `tmp -> bytes`, or None: a symlink loop)."
        def build(tmp):
            d = tmp / f"shots-{name}"; d.mkdir()
            for i in range(good): (d / f"{chr(97 + i)}.png").write_bytes(png_bytes(i))
            for fname, data in extra.items():
                if data is None: symlink_loop(d, fname)
                else: (d / fname).write_bytes(data(tmp) if callable(data) else data)
            return d
        return build
    bad_png = png_bytes(9)[:60]
    def names(n): return lambda target: (n,)
    spec = [
        ("corrupt-after-shots", {"z-corrupt.png": bad_png}, 2, "z-corrupt.png", ()),
        ("corrupt-within-shots", {"a0-corrupt.png": bad_png}, 2, "a0-corrupt.png", ()),
        ("zero-byte-within-shots", {"a0-zero.png": b""}, 2, "a0-zero.png", ("empty",)),
        ("zero-byte-after-shots", {"zz-zero.jpg": b""}, 2, "zz-zero.jpg", ("empty",)),
        ("text-named-png", {"a0-notes.png": b"this is a text file, not a picture\n"}, 2, "a0-notes.png", ()),
        ("text-named-png-after-shots", {"zz-notes.png": b"hello\n"}, 2, "zz-notes.png", ()),
        ("pickle-named-png", {"a0-evil.png": lambda tmp: pickle.dumps(payload("system", _sentinel(tmp)), protocol=2)}, 2, "a0-evil.png", ()),
        ("symlink-loop-image", {"a0-loop.png": None}, 2, "a0-loop.png", ("symlink",)),
        ("png-header-then-garbage", {"a0-garbage.png": png_bytes(4)[:16] + random_bytes(4, 512)}, 2, "a0-garbage.png", ()),
    ]
    for name, extra, shots, bad, words in spec:
        case(F, name, folder(name, extra), read_target_images(shots), refusal(words=words, name=names(bad)))
    # a .pt tensor file of target images
    def build(tmp):
        p = tmp / "targets-evil.pt"; torch.save(payload("system", _sentinel(tmp)), p); return p
    case(F, "malicious-tensor-file", build, read_target_images(2), refusal())
    def build(tmp): return write(tmp / "targets-zero.pt", b"")
    case(F, "empty-tensor-file", build, read_target_images(2), refusal(words=("empty",)))
    def build(tmp):
        p = tmp / "targets-nan.pt"; x = torch.zeros(3, 3, 16, 16); x[1, 0, 2, 2] = float("nan"); torch.save(x, p); return p
    case(F, "nan-in-tensor-file", build, read_target_images(2), refusal(words=NONFINITE_WORDS))


for _f in (_family_malicious, _family_nvlabs, _family_rosinality, _family_safetensors, _family_wrong_format, _family_nonfinite,
           _family_runs, _family_fewshot):
    _f()
FAMILIES = list(dict.fromkeys(c.family for c in CASES))


# ----------------------------------------------------------------------------------------------- the default subset
def default_cases() -> list[Case]:
    "A deterministic subset: every third case of each family (from its first), so at least two per family."
    out = []
    for fam in FAMILIES:
        cs = [c for c in CASES if c.family == fam]
        out += cs[::3]
    return out


def selected_cases(full: bool | None = None) -> list[Case]:
    "Every case when `full` (default: $AIR_NB_FUZZ == 'full'), else `default_cases()`."
    if full is None: full = os.environ.get("AIR_NB_FUZZ", "").lower() == "full"
    return list(CASES) if full else default_cases()


# ----------------------------------------------------------------------------------------------- the table
def table(cases: list[Case], results: dict[str, Outcome]) -> str:
    head = "| family | cases | " + " | ".join(OUTCOMES) + " |"
    lines = [head, "|" + "---|" * (len(OUTCOMES) + 2)]
    for fam in FAMILIES:
        cs = [c for c in cases if c.family == fam]
        if not cs: continue
        counts = [sum(1 for c in cs if results[c.id] == o) for o in OUTCOMES]
        lines.append(f"| {fam} | {len(cs)} | " + " | ".join(str(n) for n in counts) + " |")
    total = [sum(1 for c in cases if results[c.id] == o) for o in OUTCOMES]
    lines.append(f"| **all** | {len(cases)} | " + " | ".join(str(n) for n in total) + " |")
    bad = [c for c in cases if results[c.id] != c.expected]
    lines += ["", f"Cases whose outcome is not the expected one ({len(bad)} of {len(cases)}):", "",
              "| case | expected | outcome | exception | message (first 150 chars) | note |", "|---|---|---|---|---|---|"]
    for c in bad:
        r = results[c.id]
        msg = r.message[:150].replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {c.id} | {c.expected} | {r} | {r.exc_type} | {msg} | {r.note.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    def _commit() -> str:
        "The commit of the air_nb that was imported, when it lies in a git checkout (else 'no git checkout')."
        try: return "commit " + subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=os.path.dirname(air_nb.__file__), capture_output=True,
                                               text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError): return "no git checkout"
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--table", action="store_true", help="run the cases and print the table of outcomes per family")
    ap.add_argument("--out", help="also write the table to this file")
    ap.add_argument("--default", action="store_true", help="only the default subset (else every case)")
    ap.add_argument("--family", action="append", help="only these families")
    args = ap.parse_args(argv)
    if not args.table: ap.print_help(); return 0
    print(f"air_nb imported from {air_nb.__file__}", file=sys.stderr)
    cases = default_cases() if args.default else list(CASES)
    if args.family: cases = [c for c in cases if c.family in args.family]
    t0 = time.perf_counter()
    results = {}
    with tempfile.TemporaryDirectory(prefix="air_nb_fuzz_") as d:
        prepare(Path(d) / "shared", run_folder=any(c.family == "run-folder" for c in cases))
        for i, c in enumerate(cases):
            results[c.id] = r = run_case(c, Path(d) / f"case{i:03d}")
            print(f"{'ok  ' if r == c.expected else 'FAIL'} {c.id}: {r.describe()[:200]}", file=sys.stderr)
    text = (f"Fuzz outcomes of air_nb {getattr(air_nb, '__version__', '')} ({_commit()}), {len(cases)} cases, {time.perf_counter() - t0:.0f} s\n\n"
            + table(cases, results)).replace(str(Path(d).resolve()), "<tmp>").replace(d, "<tmp>")   # messages name the scratch folder
    print(text)
    if args.out: Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
