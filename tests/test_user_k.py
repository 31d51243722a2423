"""The user's k is the only k they see: library logs, the README's thresholds, the app's texts."""

from __future__ import annotations

import logging
import re
import warnings
from pathlib import Path

import numpy as np

from kingdra.config import KingdraConfig, resolve_preset
from kingdra.engine import KingdraEngine

ROOT = Path(__file__).resolve().parents[1]


def test_engine_logs_name_the_callers_k_not_the_fine_count(caplog):
    config = KingdraConfig.from_preset("fast", n_clusters=3, n_models=3, hidden=(8,))
    assert config.overcluster == 2
    X = np.random.default_rng(0).normal(size=(30, 4)).astype(np.float32)
    engine = KingdraEngine(X, config, device="cpu")
    engine.member_labels = np.zeros((30, 3), dtype=np.int64)  # one pick removes every node
    engine.confidence = np.ones((30, 3))
    with caplog.at_level(logging.INFO), warnings.catch_warnings():
        warnings.simplefilter("error")  # the graph's UserWarning says k=6: it must not escape
        engine.build_graph()
    text = caplog.text
    assert "k=6" not in text and "n_clusters=3" in text
    assert "one per fine cluster" in text
    assert [r.name for r in caplog.records if r.levelno >= logging.WARNING] == ["kingdra.engine"]


def test_no_fine_note_without_over_clustering(caplog):
    config = KingdraConfig.from_preset("paper", n_clusters=3, n_models=3, hidden=(8,))
    X = np.random.default_rng(0).normal(size=(30, 4)).astype(np.float32)
    engine = KingdraEngine(X, config, device="cpu")
    engine.member_labels = np.zeros((30, 3), dtype=np.int64)
    engine.confidence = np.ones((30, 3))
    with caplog.at_level(logging.WARNING):
        engine.build_graph()
    assert "3 wanted and" in caplog.text and "fine cluster" not in caplog.text


def test_readme_example_uses_the_app_default_thresholds():
    """The README's build_graph call is what the app starts with (the default preset)."""
    readme = (ROOT / "README.md").read_text()
    found = re.search(r"from_preset\(\"(\w+)\", n_clusters=(\d+)\).*?build_graph\(t_pos=(\d+), "
                      r"t_neg=(\d+)\)", readme, re.S)  # fmt: skip
    assert found, "README's step-by-step example changed: update this test"
    preset, k, t_pos, t_neg = found.group(1), *map(int, found.groups()[1:])
    defaults = KingdraConfig.from_preset(preset, n_clusters=k).thresholds()
    assert (t_pos, t_neg) == (defaults.t_pos, defaults.t_neg)
    assert resolve_preset("auto", 1797) == preset  # the app's default on its digits
