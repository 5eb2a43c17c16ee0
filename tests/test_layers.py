"""The package's architecture, checked: imports point down the layers only, there is no import circle, the core names
no world, and the lower layers reach the shapes world only through registries (never by importing it or by branching
on its name)."""
import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "air_nb"
LAYERS = ["core", "models", "clip", "methods", "training", "evaluation", "shapes", "scale"]   # an import may only point left
WORLD_WORDS = ("shapes", "world2", "world1")


def _modules() -> dict[str, Path]:
    return {".".join(p.relative_to(PKG.parent).with_suffix("").parts): p
            for p in sorted(PKG.rglob("*.py")) if p.name not in ("__init__.py", "_modidx.py")}


def _imports(name: str, path: Path) -> list[tuple[str, int, bool]]:
    "(imported air_nb module, line, inside a function or class) for every air_nb import of the module."
    out = []
    def visit(node, nested):
        for child in ast.iter_child_nodes(node):
            inner = nested or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            if isinstance(child, ast.ImportFrom):
                if child.level:
                    base = name.split(".")[:-child.level]
                    target = ".".join(base + ([child.module] if child.module else []))
                    targets = [target] if child.module else [f"{target}.{a.name}" for a in child.names]
                elif child.module and child.module.split(".")[0] == "air_nb":
                    targets = [child.module] if child.module != "air_nb" else [f"air_nb.{a.name}" for a in child.names]
                else: targets = []
                # `from air_nb.models import dcgan` names a module
                targets = [t if t in MODULES else (f"{t}.{child.names[0].name}" if f"{t}.{child.names[0].name}" in MODULES else t) for t in targets]
                out.extend((t, child.lineno, nested) for t in targets)
            elif isinstance(child, ast.Import):
                out.extend((a.name, child.lineno, nested) for a in child.names if a.name.split(".")[0] == "air_nb")
            visit(child, inner)
    visit(ast.parse(path.read_text()), False)
    return out


MODULES = _modules()
def _layer(module: str) -> str: return module.split(".")[1]


def import_graph() -> dict[str, set[str]]:
    "module -> the air_nb modules it imports at its top level (a package import counts as every module of the package)."
    graph = {}
    for name, path in MODULES.items():
        deps = set()
        for target, _, _ in _imports(name, path):
            deps |= {target} if target in MODULES else {m for m in MODULES if m.startswith(target + ".")}
        graph[name] = deps - {name}
    return graph


def layer_diagram(graph: dict[str, set[str]]) -> str:
    "One line per layer: the layers it imports (for the record in a closing note)."
    arrows = {l: sorted({_layer(d) for m, ds in graph.items() if _layer(m) == l for d in ds} - {l}, key=LAYERS.index) for l in LAYERS}
    return "\n".join(f"{l:<11} -> {', '.join(arrows[l]) or '(nothing)'}" for l in LAYERS)


def test_every_module_is_in_a_layer():
    assert {_layer(m) for m in MODULES} <= set(LAYERS), sorted({_layer(m) for m in MODULES} - set(LAYERS))


def test_imports_point_down_only():
    up = [f"{m} -> {d}" for m, ds in import_graph().items() for d in ds if LAYERS.index(_layer(d)) > LAYERS.index(_layer(m))]
    assert not up, "imports pointing up the layers:\n" + "\n".join(up)


def test_no_import_circle():
    graph, state, cycles = import_graph(), {}, []
    def walk(m, stack):
        state[m] = "open"
        for d in sorted(graph[m]):
            if state.get(d) == "open": cycles.append(" -> ".join(stack[stack.index(d):] + [d]))
            elif d not in state: walk(d, stack + [d])
        state[m] = "done"
    for m in sorted(graph):
        if m not in state: walk(m, [m])
    assert not cycles, "import circles:\n" + "\n".join(cycles)


def test_no_import_inside_functions_below_the_top_layer():
    "An import inside a function is how circles get dodged; below `scale` there is no reason left for one."
    inner = [f"{m}:{line} -> {t}" for m, p in MODULES.items() if _layer(m) != "scale" for t, line, nested in _imports(m, p) if nested]
    assert not inner, "air_nb imports inside functions:\n" + "\n".join(inner)


def test_core_names_no_world():
    hits = [f"{p.relative_to(PKG)}:{i}" for m, p in MODULES.items() if _layer(m) == "core"
            for i, line in enumerate(p.read_text().splitlines(), 1) if any(w in line.lower() for w in WORLD_WORDS)]
    assert not hits, f"the core mentions a world: {hits}"


def _branches_on_world(tree) -> list[int]:
    "Lines that compare with, or test a prefix against, a string naming a world (dispatch by name instead of a registry)."
    named = lambda n: isinstance(n, ast.Constant) and isinstance(n.value, str) and any(n.value.lower().startswith(w) for w in WORLD_WORDS)
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and any(named(x) for x in [node.left, *node.comparators]): lines.append(node.lineno)
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("startswith", "endswith")
                and any(named(a) for a in node.args)): lines.append(node.lineno)
    return lines


def test_lower_layers_reach_worlds_only_through_registries():
    below = LAYERS[:LAYERS.index("shapes")]
    hits = [f"{m}:{line}" for m, p in MODULES.items() if _layer(m) in below for line in _branches_on_world(ast.parse(p.read_text()))]
    assert not hits, f"code below the shapes plug-in branches on a world's name: {hits}"


def test_the_shapes_world_is_a_plug_in():
    "Nothing below it imports it, and the core's registries find its entries through the entry point alone."
    import subprocess, sys
    code = ("from air_nb.models.generators import load_generator, GENERATOR_PRESETS; import sys; "
            "assert not any(m.startswith('air_nb.shapes') for m in sys.modules); "
            "assert 'shapes-photo' in GENERATOR_PRESETS; print(type(load_generator('shapes-red')).__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.strip() == "StyleGAN2Generator", out.stderr[-3000:]


if __name__ == "__main__":
    print(layer_diagram(import_graph()))
