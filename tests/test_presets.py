"""The default preset ``auto`` picks its settings by the number of rows and their sparsity."""

import json
from pathlib import Path

import numpy as np
import pytest

from kingdra import KingdraCluster
from kingdra.config import (
    AUTO_PRESETS,
    AUTO_SPARSE,
    PRESET_NAMES,
    PRESETS,
    SPARSE_BELOW,
    KingdraConfig,
    describe_auto,
    nonzero_fraction,
    resolve_preset,
)


@pytest.mark.parametrize(
    ("n", "preset"),
    [(1, "fast"), (1797, "fast"), (2999, "fast"), (3000, "imsat-ae-umap")]
    + [(5000, "imsat-ae-umap"), (19999, "imsat-ae-umap"), (20000, "imsat-large")]
    + [(70000, "imsat-large")],
)
def test_auto_picks_the_preset_measured_for_that_size(n, preset):
    assert resolve_preset("auto", n) == preset
    assert KingdraConfig.from_preset("auto", n_samples=n) == KingdraConfig.from_preset(preset)


@pytest.mark.parametrize(
    ("n", "nonzero", "preset"),
    [(1797, 0.02, "fast"), (5000, 0.0, "imsat"), (7309, 0.0198, "imsat")]
    + [(5000, 0.0999, "imsat"), (5000, 0.10, "imsat-ae-umap"), (5000, 0.19, "imsat-ae-umap")]
    + [(70000, 0.02, "imsat-large")],
)
def test_auto_keeps_the_inputs_for_sparse_data_of_middle_size(n, nonzero, preset):
    assert resolve_preset("auto", n, nonzero) == preset
    config = KingdraConfig.from_preset("auto", n_samples=n, nonzero=nonzero)
    assert config == KingdraConfig.from_preset(preset)


@pytest.mark.parametrize("nonzero", [-0.1, 1.5, float("nan"), "dense", None])
def test_auto_refuses_a_fraction_out_of_range(nonzero):
    with pytest.raises(ValueError, match="nonzero must be a fraction in"):
        resolve_preset("auto", 5000, nonzero)


def test_nonzero_fraction_counts_entries():
    assert nonzero_fraction(np.zeros((3, 4))) == 0.0
    assert nonzero_fraction(np.eye(4)) == 0.25
    assert nonzero_fraction(np.zeros((0, 4))) == 1.0  # no entries: not evidence of sparsity
    X = np.random.default_rng(0).random((50, 20))
    assert nonzero_fraction(np.where(X < 0.05, X, 0)) < SPARSE_BELOW


def test_a_named_preset_stands_for_itself_whatever_the_size():
    for name in PRESETS:
        assert resolve_preset(name) == name
        assert resolve_preset(name, 70000) == name


@pytest.mark.parametrize("n", [None, 0, -5, 2.5, "5000"])
def test_auto_without_a_row_count_says_what_to_give(n):
    with pytest.raises(ValueError, match="give n_samples"):
        resolve_preset("auto", n)


def test_unknown_preset_lists_the_names():
    names = "auto, paper, fast, imsat, imsat-large, unequal, imsat-ae-umap"
    with pytest.raises(ValueError, match=f"use one of {names}"):
        resolve_preset("fastest", 100)


def test_the_rule_ends_unbounded_and_names_real_presets():
    bounds = [bound for bound, _ in AUTO_PRESETS]
    assert bounds[-1] is None and bounds[:-1] == sorted(bounds[:-1])
    assert all(preset in PRESETS for _, preset in AUTO_PRESETS)
    assert PRESET_NAMES[0] == "auto"
    assert all(preset in PRESETS for preset in AUTO_SPARSE.values())
    assert describe_auto() == (
        "``fast`` below 3,000, ``imsat-ae-umap`` below 20,000 (``imsat`` where under 10 % of "
        "the entries are non-zero, as in tf-idf text), ``imsat-large`` from 20,000 rows"
    )


def test_imsat_large_is_imsat_with_fewer_members_and_bigger_batches():
    large, mid = KingdraConfig.from_preset("imsat-large"), KingdraConfig.from_preset("imsat")
    changed = {k for k, v in large.to_dict().items() if mid.to_dict()[k] != v}
    assert changed == {
        "n_models",
        "batch_size",
        "epochs_base",
        "epochs_iter",
        "overcluster",
    }
    assert (large.n_models, large.batch_size, large.overcluster) == (5, 250, 1)
    assert mid.overcluster == 2


def test_unequal_is_imsat_with_a_weaker_pull_to_equal_sizes_and_no_merge():
    a, b = KingdraConfig.from_preset("unequal").to_dict(), KingdraConfig.from_preset("imsat")
    changed = {k for k in a if a[k] != b.to_dict()[k]}
    assert changed == {"mu", "overcluster", "pilot_mu"}
    assert (a["mu"], a["overcluster"], a["pilot_mu"], b.mu, b.pilot_mu) == (1.0, 1, 0.0, 4.0, 1.0)
    assert all(preset != "unequal" for _, preset in AUTO_PRESETS)  # named only


def test_estimator_default_is_auto_and_uses_the_rows_of_X():
    est = KingdraCluster(n_clusters=3, epochs_base=0, n_iter=0, random_state=0)
    assert est.preset == "auto" and est.n_models is None
    assert est.make_config(n_samples=100).base == "ladder-im"  # fast
    assert est.make_config(n_samples=5000).embed == "ae-umap"
    assert est.make_config(5000, nonzero=0.02).embed == "none"
    big = est.make_config(n_samples=50000)
    assert (big.base, big.n_models) == ("imsat", 5)
    X = np.random.default_rng(0).normal(size=(30, 4)).astype(np.float32)
    fitted = est.set_params(stage="ensemble").fit(X)
    assert fitted.engine_.config == est.make_config(n_samples=30)


def test_estimator_auto_without_rows_says_what_to_give():
    with pytest.raises(ValueError, match="give n_samples"):
        KingdraCluster().make_config()


def test_cli_fit_defaults_to_auto_and_records_the_preset_it_took(tmp_path, capfd):
    from kingdra.cli import main

    rng = np.random.default_rng(0)
    rows = np.concatenate([rng.normal(c, 0.1, size=(20, 3)) for c in (0.0, 3.0)])
    csv = tmp_path / "two.csv"
    np.savetxt(csv, rows, delimiter=",", header="a,b,c", comments="")
    args = ["fit", "--dataset", str(csv), "--n-clusters", "2", "--out", str(tmp_path / "run")]
    fast = ["--hidden", "8", "--n-models", "2", "--epochs-base", "1", "--n-iter", "0"]
    assert main([*args, *fast, "--device", "cpu"]) == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["preset"] == "fast"  # 40 rows: auto's preset for small data
    assert metrics["config"]["base"] == "ladder-im" and metrics["config"]["overcluster"] == 2
    assert "preset auto -> fast" in "".join(capfd.readouterr())


def test_train_page_defaults_to_auto_and_fills_the_form_from_its_preset():
    from streamlit.testing.v1 import AppTest

    app = str(Path(__file__).resolve().parents[1] / "app.py")
    at = AppTest.from_file(app, default_timeout=120).run()
    at = at.switch_page("pages/train.py").run()
    assert not at.exception, [e.value for e in at.exception]
    select = at.selectbox(key="train_preset")
    assert select.value == "auto"
    assert "auto: fast for 1,797 rows" in select.options  # digits: auto's preset for its size
    assert at.number_input(key="train_overcluster").value == 2  # fast's, filled in
    select.set_value("imsat-large").run()
    assert at.number_input(key="train_overcluster").value == 1  # imsat-large's
    assert at.number_input(key="train_vat_eps").value == 0.25


@pytest.mark.parametrize(
    ("argv", "rows", "base", "n_models"),
    [
        ([], 5000, "imsat", 10),  # auto -> imsat-ae-umap: its members, not the default base
        ([], 70000, "imsat", 5),
        ([], 1797, "ladder-im", 10),
        (["--preset", "imsat"], 100, "imsat", 10),
        (["--preset", "imsat", "--base", "ladder-dot"], 100, "ladder-dot", 10),
    ],
)
def test_cli_settings_leave_the_base_and_ensemble_size_to_the_preset(argv, rows, base, n_models):
    from kingdra.cli import build_parser, estimator_from_args

    args = build_parser().parse_args(["fit", "--dataset", "digits", "--out", "x", *argv])
    config = estimator_from_args(args, 10).make_config(n_samples=rows)
    assert (config.base, config.n_models) == (base, n_models)
