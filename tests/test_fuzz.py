"""Hostile and corrupt files against every reader of air_nb (the cases are in fuzz_cases.py): nothing in a file runs,
every refusal is an AirNbError whose message names the file and says what is wrong, nothing corrupt loads silently, and
what must load (allow_nonfinite=True, a run with an intact older checkpoint) does. The default run takes a deterministic
subset (every third case of each family); AIR_NB_FUZZ=full runs every case."""
import pickle

import pytest

import fuzz_cases as fz
from air_nb.core.base import ConfigError

CASES = fz.selected_cases()


@pytest.fixture(scope="session")
def fuzz_shared(tmp_path_factory):
    "The artifacts the cases copy from (our .safetensors, the tiny run folder ...), built once per session."
    return fz.prepare(tmp_path_factory.mktemp("fuzz_shared"), run_folder=any(c.family == "run-folder" for c in CASES))


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_fuzz_case(case, fuzz_shared, tmp_path):
    outcome = fz.run_case(case, tmp_path)
    assert outcome == case.expected, f"{case.id}: expected {case.expected!r}, got {outcome.describe()}"


def test_the_default_subset_covers_every_family_and_is_deterministic():
    default = fz.default_cases()
    for fam in fz.FAMILIES: assert sum(c.family == fam for c in default) >= 2, fam
    assert [c.id for c in default] == [c.id for c in fz.default_cases()]
    assert len(default) < len(fz.CASES)
    assert fz.selected_cases(full=True) == fz.CASES and fz.selected_cases(full=False) == default


def test_cases_are_well_formed():
    ids = [c.id for c in fz.CASES]
    assert len(ids) == len(set(ids))
    assert {c.expected for c in fz.CASES} <= {fz.REFUSED, fz.LOADED}
    assert len(fz.FAMILIES) == 8 and all(sum(c.family == f for c in fz.CASES) >= 5 for f in fz.FAMILIES)


# ---- the classifier itself, on stand-in readers (independent of the library's state)
def _outcome(tmp_path, read, check=None, build=None):
    def default_build(tmp):
        p = tmp / "thing.pt"; p.write_bytes(b"x"); return p
    case = fz.Case("meta", "meta", build or default_build, read, check or fz.refusal(words=("empty",)))
    return fz.run_case(case, tmp_path)


def test_classifier_outcomes(tmp_path):
    assert _outcome(tmp_path / "a", lambda p: {}[p.name]) == "raw exception"
    assert _outcome(tmp_path / "b", lambda p: 1) == "silent load"
    def raise_(msg):
        def read(p): raise ConfigError(msg.format(p=p))
        return read
    assert _outcome(tmp_path / "c", raise_("{p} is empty.")) == "clear refusal"
    assert _outcome(tmp_path / "d", raise_("the file is empty.")) == "misleading message"          # does not name it
    assert _outcome(tmp_path / "e", raise_("{p} is broken.")) == "misleading message"             # lacks the word
    assert _outcome(tmp_path / "f", raise_("{p} is empty; re-run `torch.load` with `weights_only` set to `False`.")) == "misleading message"
    assert _outcome(tmp_path / "g", raise_("  ")) == "misleading message"
    def build_empty_dir(tmp):                   # the word must come from the message, not from the path
        d = tmp / "empty-folder"; d.mkdir(); return d / "thing.pt"
    assert _outcome(tmp_path / "h", raise_("{p} is broken."), build=build_empty_dir) == "misleading message"


def test_classifier_sees_executed_payloads(tmp_path):
    def build(tmp):
        p = tmp / "evil.pkl"; p.write_bytes(pickle.dumps(fz.payload("system", tmp / fz.SENTINEL), protocol=2)); return p
    def unsafe_read(p):
        pickle.loads(p.read_bytes())            # what a careless reader does: the payload touches the sentinel
        raise ConfigError(f"{p} refused")
    assert _outcome(tmp_path / "a", unsafe_read, fz.refusal(), build) == "executed"
    for kind in fz.PAYLOAD_KINDS:               # every payload, in every protocol, does create its sentinel when unpickled
        for proto in (0, 2, 5):
            tmp = tmp_path / f"{kind}{proto}"; tmp.mkdir()
            s = tmp / fz.SENTINEL
            pickle.loads(fz.protocol0_bytes(kind, s) if proto == 0 else pickle.dumps(fz.payload(kind, s), protocol=proto))
            fz.wait_for(s)
            assert s.exists(), (kind, proto)


def test_classifier_loads_checks(tmp_path):
    assert _outcome(tmp_path / "a", lambda p: 1, fz.loads(lambda o: "")) == "loaded as expected"
    assert _outcome(tmp_path / "b", lambda p: 1, fz.loads(lambda o: "lost the value")) == "silent load"
    def refuse(p): raise ConfigError(f"{p} refused")
    assert _outcome(tmp_path / "c", refuse, fz.loads(lambda o: "")) == "clear refusal"
