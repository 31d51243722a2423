"""The app's first paint needs neither torch nor the engine, our figures or umap."""

import json
import subprocess
import sys
import threading
from pathlib import Path

from kingdra import lazy

ROOT = Path(__file__).resolve().parents[1]
# (Streamlit imports plotly itself, so a one-line Streamlit app has it too.)
HEAVY = ("torch", "kingdra.engine", "kingdra.plots", "sklearn", "umap", "numba")


def _python(code: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()[-1]


def test_app_and_home_page_imports_leave_heavy_modules_unloaded():
    # Run every top-level import of app.py and of the home page before its text.
    code = f"""
import ast, json, sys
for path, stop in (("app.py", None), ("pages/home.py", "kingdra.ui")):
    for node in ast.parse(open(path).read()).body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [node.module] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            if stop and any(n.startswith(stop) for n in names):
                break
            exec(compile(ast.Module([node], []), path, "exec"))
import kingdra, kingdra.lazy
print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))
"""
    assert json.loads(_python(code)) == []


def test_home_page_draws_its_text_before_torch_is_imported():
    # With torch made unimportable, the home page still draws its text; the first error is
    # the sidebar's import of torch, after the page.
    code = """
import json, sys
class NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch blocked by the test")
sys.meta_path.insert(0, NoTorch())
from streamlit.testing.v1 import AppTest
at = AppTest.from_file("app.py", default_timeout=60).run()
print(json.dumps({
    "title": [t.value for t in at.title],
    "subheader": [s.value for s in at.subheader],
    "markdown": " ".join(m.value for m in at.markdown),
    "exception": [e.value for e in at.exception],
}))
"""
    out = json.loads(_python(code))
    assert "kingdra" in out["title"][0]
    assert "Quick start" in out["subheader"]
    assert "Algorithm 1" in out["markdown"]
    assert out["exception"] and "torch blocked" in out["exception"][0]


def test_warm_in_background_imports_once(monkeypatch):
    monkeypatch.setattr(lazy, "_started", threading.Event())
    thread = lazy.warm_in_background(("json", "no_such_module_kingdra"))  # errors are logged
    assert thread is not None
    thread.join(60)
    assert not thread.is_alive()
    assert lazy.warm_in_background(("json",)) is None
