"""Promises the repository keeps: the README's commands are the ones CI runs."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _readme_code_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```(?:bash|sh|console)?\n(.*?)```", text, flags=re.S)


def test_readme_starts_with_setup_run_and_test_commands():
    blocks = _readme_code_blocks()
    assert len(blocks) >= 2
    setup = blocks[0].strip().splitlines()
    assert setup == ["pip install -r requirements.txt", "streamlit run app.py"]
    assert blocks[1].strip() == "python -m pytest"


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    test_command = _readme_code_blocks()[1].strip()
    last_command = [ln for ln in ci.splitlines() if ln.strip() and not ln.startswith("#")][-1]
    assert last_command.strip() == test_command
    assert "pip install -q -r requirements.txt" in ci


def test_requirements_pin_torch_exactly():
    reqs = (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
    assert "torch==2.13.0" in reqs
    assert not any(line.startswith("torchvision") for line in reqs)


def test_ruff_is_clean():
    paths = [
        p for p in ("kingdra", "pages", "tests", "benchmarks", "app.py") if (ROOT / p).exists()
    ]
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", *paths],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_ci_lints_and_checks_formatting_before_the_tests():
    ci = [ln.strip() for ln in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()]
    tests = ci.index("python -m pytest")
    assert ci.index("python -m ruff check .") < tests
    assert ci.index("python -m ruff format --check .") < tests


def test_the_install_line_installs_the_package_and_its_command():
    """`pip install -r requirements.txt` (README, .ci/run) also installs kingdra itself."""
    reqs = [ln.strip() for ln in (ROOT / "requirements.txt").read_text().splitlines()]
    assert "-e ." in reqs
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'kingdra = "kingdra.cli:main"' in pyproject


def test_import_and_command_work_from_any_folder_once_installed(tmp_path):
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        distribution("kingdra")
    except PackageNotFoundError:
        pytest.skip("kingdra is not installed here (pip install -r requirements.txt does it)")
    code = "import kingdra, pathlib; print(pathlib.Path(kingdra.__file__).resolve())"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    script = Path(sys.executable).with_name("kingdra")
    if script.exists():
        shown = subprocess.run([str(script), "--help"], capture_output=True, text=True)
        assert shown.returncode == 0 and "fit" in shown.stdout
