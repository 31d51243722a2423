"""The benchmark scripts run end to end on tiny settings (their figures live in docs/)."""

import json
import sys

import numpy as np
import pytest
import torch

from benchmarks import bench_ensemble, merge_seeds, table2

TINY = ["--set", "n_models=2", "--set", "hidden=[16]", "--set", "epochs_base=1"]
TINY += ["--set", "epochs_iter=1", "--set", "n_iter=1", "--set", "min_confidence=0"]


@pytest.fixture(autouse=True)
def keep_threads():
    """The scripts set their own torch thread count; the rest of the suite uses one."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_bench_ensemble_prints_one_ratio_per_width(monkeypatch, capsys):
    argv = ["bench_ensemble.py", "--models", "2", "--hidden", "8;8,8", "--rows", "128"]
    argv += ["--repeats", "1", "--threads", "1"]
    monkeypatch.setattr(sys, "argv", argv)
    bench_ensemble.main()
    lines = capsys.readouterr().out.splitlines()
    rows = [line.split() for line in lines[3:]]
    assert [r[0] for r in rows] == ["8", "8,8"]
    for row in rows:
        assert float(row[1]) > 0 and float(row[2]) > 0 and row[3].endswith("x")


def test_bench_graph_baseline_runs_without_numba_and_agrees():
    from benchmarks import bench_graph

    case = bench_graph.QUICK[0]
    compiled = bench_graph.case_in_subprocess(case, baseline=False)
    baseline = bench_graph.case_in_subprocess(case, baseline=True)
    assert baseline["method"] in ("masks", "matmul")  # numba cannot be imported there
    assert compiled["digest"] == baseline["digest"] and compiled["clusters"] == 10
    assert bench_graph.side_by_side(300)["same"]


def test_table2_writes_every_seed_of_every_row(tmp_path, capsys):
    out = tmp_path / "t2.json"
    argv = ["--dataset", "digits", "--seeds", "2", "--paper-seeds", "1", "--device", "cpu"]
    argv += ["--rows", "kmeans,ladder-im,imsat", "--out", str(out), *TINY]
    assert table2.main(argv) == 0
    report = json.loads(out.read_text())
    assert report["dataset"] == "digits" and report["n"] == 1797
    assert report["command"] == "python -m benchmarks.table2 " + " ".join(argv)
    # the versions the figures depend on: torch's as imported, umap-learn's by its dist name
    assert report["packages"]["torch"] == torch.__version__
    assert set(report["packages"]) == set(table2.MEASURED_PACKAGES)
    assert report["packages"]["umap-learn"] and report["packages"]["scikit-learn"]
    assert list(report["rows"]) == [
        "K-means",
        "Ladder-IM",
        "Ladder-IM-ensemble",
        "Kingdra-Ladder-IM",
        "IMSAT (one member)",
        "IMSAT-ensemble",
        "Kingdra-IMSAT",
    ]
    assert len(report["rows"]["Kingdra-IMSAT"]["acc"]) == 2
    assert len(report["rows"]["Kingdra-Ladder-IM"]["acc"]) == 1  # --paper-seeds 1
    assert all(0.0 < a <= 1.0 for a in report["rows"]["K-means"]["acc"])
    assert report["seeds"] == [0, 1]
    history = report["iterations"]["Kingdra-IMSAT"]["0"]
    assert [h["iteration"] for h in history] == [0, 1] and history[1]["coverage"] > 0
    # every member's ACC: the first is the "one member" row's
    members = history[0]["member_acc"]
    one = report["rows"]["IMSAT (one member)"]["acc"][0]
    assert len(members) == 2 and members[0] == pytest.approx(one, abs=1e-5)
    assert table2.seed_list("1,3") == [1, 3] and table2.seed_list("2") == [0, 1]
    assert "| Kingdra-IMSAT |" in capsys.readouterr().out


def test_table2_command_line_is_recorded_from_sys_argv(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["table2.py", "--dataset", "digits", "--seeds", "1"])
    command = table2.command_line("benchmarks.table2", None)
    assert command == "python -m benchmarks.table2 --dataset digits --seeds 1"


def test_seeds_run_apart_merge_into_the_report_of_one_run(tmp_path, capsys):
    def run(seeds: str, name: str) -> dict:
        out = tmp_path / name
        argv = ["--dataset", "digits", "--seeds", seeds, "--device", "cpu"]
        assert table2.main([*argv, "--rows", "kmeans,imsat", "--out", str(out), *TINY]) == 0
        return json.loads(out.read_text())

    together = run("2", "both.json")
    parts = [run("1,", "s1.json"), run("0,", "s0.json")]
    merged_path = tmp_path / "merged.json"
    argv = [str(tmp_path / "s0.json"), str(tmp_path / "s1.json"), "--out", str(merged_path)]
    assert merge_seeds.main(argv) == 0
    merged = json.loads(merged_path.read_text())
    assert merged["seeds"] == [0, 1] and list(merged["rows"]) == list(together["rows"])
    for name, row in together["rows"].items():
        assert merged["rows"][name]["acc"] == row["acc"]
    assert merged["iterations"] == together["iterations"]
    assert "| Kingdra-IMSAT |" in capsys.readouterr().out
    assert merged["command"].count("--seeds") == 2

    with pytest.raises(ValueError, match="a seed appears in two reports"):
        merge_seeds.merge([parts[0], parts[0]])
    with pytest.raises(ValueError, match="differ in 'dataset'"):
        merge_seeds.merge([parts[0], {**parts[1], "dataset": "mnist"}])
    with pytest.raises(ValueError, match="no reports"):
        merge_seeds.merge([])


def test_table2_commit_comes_from_the_environment_where_it_is_set(tmp_path, monkeypatch):
    monkeypatch.setenv("KINGDRA_COMMIT", "abc123")
    assert table2.commit() == "abc123"  # the caller's word wins over a git that may be stale
    monkeypatch.delenv("KINGDRA_COMMIT")
    assert table2.commit() != "abc123"
    monkeypatch.setattr(table2, "ROOT", tmp_path)  # no repository there
    assert table2.commit() == "unknown"


@pytest.mark.parametrize("part", ["t_neg", "gate", "balanced", "merged"])
def test_ablation_runs_both_branches_from_one_base(tmp_path, part):
    from benchmarks import ablation

    out = tmp_path / "abl.json"
    argv = ["--part", part, "--dataset", "digits", "--preset", "fast", "--seeds", "1"]
    argv += ["--device", "cpu", "--out", str(out), *TINY, "--set", "n_models=3"]
    assert ablation.main(argv) == 0
    report = json.loads(out.read_text())
    assert report["part"] == part and report["seeds"] == [0]
    first = {name: report["iterations"][name]["0"][0] for name in ("with", "without")}
    if part == "t_neg":
        assert (first["with"]["t_neg"], first["without"]["t_neg"]) == (2, 3)
    elif part == "gate":
        assert (first["with"]["min_confidence"], first["without"]["min_confidence"]) == (0.9, 0.0)
    elif part == "merged":  # at most one mini-cluster per cluster, against one per fine one
        assert len(first["with"]["mini_cluster_sizes"]) <= 10
    for name in ("base", "with", "without"):
        assert 0.1 < report[name][0] <= 1.0


def test_ablation_balanced_part_switches_between_round_robin_and_uniform_rows():
    from benchmarks.ablation import _set_balanced
    from kingdra.config import KingdraConfig
    from kingdra.engine import KingdraEngine

    X = np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32)
    config = KingdraConfig.from_preset("fast", n_clusters=2, n_models=2, hidden=(4,))
    engine = KingdraEngine(X, config, device="cpu")
    pseudo = np.full((40, 2), -1)
    pseudo[:30, :] = 0  # a large pseudo-class, a small one, and ten unlabelled rows
    pseudo[30:32, :] = 1
    _set_balanced(engine, False)
    rows = engine.trainer.balanced_indices(pseudo, 640).numpy()
    assert rows.shape == (2, 640) and (rows < 32).all()  # labelled rows only
    share = (rows >= 30).mean()
    assert 0.03 < share < 0.1  # the small class in proportion to its size (2 of 32)
    _set_balanced(engine, True)
    rows = engine.trainer.balanced_indices(pseudo, 640).numpy()
    assert (rows >= 30).mean() == 0.5  # round robin: every other row


def test_bench_epoch_prints_both_optimizers(capsys):
    from benchmarks import bench_epoch

    argv = ["--data", "digits", "--presets", "fast", "--batches", "2", "--warmup", "1"]
    assert bench_epoch.main([*argv, "--repeats", "1"]) == 0
    row = [line for line in capsys.readouterr().out.splitlines() if "| fast |" in line]
    assert len(row) == 1
    loop, fused, ratio = (float(v) for v in row[0].strip("| ").split("|")[2:])
    assert loop > 0 and fused > 0 and ratio == pytest.approx(loop / fused, rel=0.02)


def test_learning_curve_reads_every_chunk_then_each_iteration(tmp_path):
    from benchmarks import learning_curve

    out = tmp_path / "curve.json"
    argv = ["--dataset", "digits", "--preset", "fast", "--every", "1", "--epochs", "2"]
    argv += ["--device", "cpu", "--out", str(out), *TINY]
    assert learning_curve.main(argv) == 0
    report = json.loads(out.read_text())
    readings = report["readings"]
    assert [r.get("epoch") for r in readings[:2]] == [1, 2]
    assert readings[2]["iteration"] == 1 and len(readings) == 3
    assert all(0.1 < r["acc"] <= 1.0 and len(r["member_acc"]) == 2 for r in readings)
    matrix = np.array(report["confusion"]["matrix"])
    assert matrix.shape[0] == 10 and matrix.sum() == 1797  # every digits row, once
    assert np.trace(matrix) / matrix.sum() == pytest.approx(readings[-1]["acc"], abs=1e-4)


def test_table2_default_row_runs_autos_preset_for_the_data(tmp_path):
    out = tmp_path / "t2.json"
    argv = ["--dataset", "digits", "--seeds", "1", "--device", "cpu", "--rows", "default"]
    assert table2.main([*argv, "--out", str(out), *TINY]) == 0
    report = json.loads(out.read_text())
    assert report["default_preset"] == "fast"  # 1,797 rows
    assert list(report["rows"]) == [
        "default (one member)",
        "default (ensemble)",
        "Kingdra (default)",
    ]
    assert [h["iteration"] for h in report["iterations"]["Kingdra (default)"]["0"]] == [0, 1]


def test_bench_app_moves_every_control_at_full_size_on_synthetic_votes(monkeypatch, capsys):
    """The full-MNIST case on 2,500 rows: every control moves without an exception."""
    from benchmarks import bench_app

    monkeypatch.setattr(sys, "argv", ["bench_app", "--full-size-only", "--rows", "2500"])
    monkeypatch.setattr(sys, "argv", sys.argv + ["--repeat", "1"])
    bench_app.main()
    out = capsys.readouterr().out
    assert "every control at n = 2,500" in out
    for control in ("| graph | t_pos |", "lasso 5,000 points", "| clusters | name a cluster |"):
        assert control in out
    assert "controls over 1 s (median):" in out


def test_bench_epoch_saves_the_synthetic_text_with_its_topics(tmp_path):
    from benchmarks import bench_epoch

    path = tmp_path / "text.npz"
    assert bench_epoch.main(["--save-text", str(path)]) == 0
    data = np.load(path)
    assert data["X"].shape == (20_000, 2_000) and data["y"].shape == (20_000,)
    assert np.array_equal(data["X"], bench_epoch.synthetic_text())
    topics = [data["X"][data["y"] == c].mean(axis=0).argsort()[-5:] for c in range(2)]
    assert not set(topics[0]) & set(topics[1])  # each topic's own words lead


def test_pairs_scores_every_baseline_on_the_rows_of_each_pair(tmp_path, capsys):
    from benchmarks import pairs

    assert pairs.parse_pairs("4-9, 3-5") == [(4, 9), (3, 5)]
    for bad in ("4", "4-4", "a-b", "4-9,"):
        with pytest.raises(ValueError, match="class pairs like 4-9"):
            pairs.parse_pairs(bad)
    out = tmp_path / "pairs.json"
    argv = ["--dataset", "digits", "--pairs", "0-1", "--baselines", "kmeans,agglomerative"]
    assert pairs.main([*argv, "--out", str(out)]) == 0
    (result,) = json.loads(out.read_text())["pairs"]
    assert result["pair"] == [0, 1] and result["n"] == 178 + 182
    assert set(result["acc"]) == {"kmeans", "agglomerative"}
    assert result["acc"]["kmeans"] > 0.9  # 0 and 1 are far apart in digits' pixels
    bad_args = {
        "--pairs takes class pairs like 4-9": ["--pairs", "4"],
        "digits has no rows of class 42": ["--pairs", "0-42"],
        "--baselines takes some of kmeans": ["--baselines", "kmeans,dbscan"],
    }
    for message, bad in bad_args.items():
        with pytest.raises(SystemExit):  # argparse's error, before any baseline runs
            pairs.main(["--dataset", "digits", "--out", str(out), *bad])
        assert message in capsys.readouterr().err


def test_islands_finds_a_moved_island_and_what_lies_beside_it(tmp_path, capsys):
    from benchmarks import islands
    from benchmarks.table2 import load_xy
    from kingdra.cli import write_labels

    _, y = load_xy("digits")
    labels = y.copy()
    moved = np.flatnonzero(y == 1)[:20]
    labels[moved] = 2  # twenty 1s put with the 2s
    path = tmp_path / "labels.csv"
    write_labels(path, labels, y)
    out = tmp_path / "islands.json"
    argv = ["--dataset", "digits", "--labels", str(path), "--k", "5,20", "--out", str(out)]
    assert islands.main([*argv, "--scale", "standard"]) == 0
    assert json.loads(out.read_text())["scale"] == "standard"
    assert islands.main(argv) == 0
    report = json.loads(out.read_text())
    assert [(c["true"], c["put_with"], c["rows"]) for c in report["cells"]] == [(1, 2, 20)]
    cell = report["cells"][0]
    assert sorted(cell["outside"]) == ["20", "5"] and 0 <= cell["inside"] <= 1
    assert sum(cell["outside"]["20"]) <= 20 * 20
    assert "20 rows of class 1 in the cluster of 2" in capsys.readouterr().out
    argv[argv.index("5,20")] = "5"  # the inside share still counts 10 neighbours
    assert islands.main(argv) == 0
    again = json.loads(out.read_text())["cells"][0]["inside"]
    assert again == pytest.approx(cell["inside"], abs=0.01)  # up to ties in distance


def test_islands_rejects_a_file_that_is_not_labels_csv(tmp_path, capsys):
    from benchmarks import islands

    bad = tmp_path / "labels.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(SystemExit) as err:
        islands.main(["--dataset", "digits", "--labels", str(bad)])
    assert err.value.code == 2 and "no index,label columns" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        islands.main(["--dataset", "digits", "--labels", str(bad), "--k", "ten"])
    assert "--k takes neighbour counts" in capsys.readouterr().err
    bad.write_text("index,label\n0,1\n1,x\n")
    with pytest.raises(SystemExit):
        islands.main(["--dataset", "digits", "--labels", str(bad)])
    assert "line 3: index and label must be integers" in capsys.readouterr().err


def test_mu_pilot_prints_and_records_each_seeds_decision(tmp_path, monkeypatch, capsys):
    from benchmarks import mu_pilot
    from kingdra import pilot

    monkeypatch.setattr(pilot, "PILOT_EPOCHS", 1)
    monkeypatch.setattr(pilot, "PILOT_ROWS", 600)
    data = tmp_path / "blobs.npz"
    rng = np.random.default_rng(0)
    centers = rng.normal(0.0, 4.0, (3, 8))
    X = np.concatenate([c + rng.normal(0.0, 1.0, (300, 8)) for c in centers]).astype(np.float32)
    np.savez(data, X=X, y=np.repeat(np.arange(3), 300))
    out = tmp_path / "pilot.json"
    argv = ["--dataset", str(data), "--seeds", "0,2", "--preset", "imsat", "--out", str(out)]
    assert mu_pilot.main(argv) == 0
    report = json.loads(out.read_text())
    assert (
        report["preset"] == "imsat" and report["n"] == 900 and list(report["seeds"]) == ["0", "2"]
    )
    assert report["rule"]["max_rows"] == 600 and report["rule"]["epochs"] == 1
    for result in report["seeds"].values():
        assert result["candidates"] == [4.0, 1.0] and result["rows"] == 600
        assert result["mu"] in result["candidates"]
    table = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ")]
    assert len(table) == 1 + 2 * 2  # header, two values per seed
    verdicts = [line.split("|")[6].strip() for line in table[1::2]]
    assert all(v in ("equal", "unequal", "unsure") for v in verdicts)
    assert report["rule"]["equal_classes"] == pilot.EQUAL_CLASSES


def test_embed_gate_prints_and_records_what_the_gate_sees(tmp_path, capsys):
    from benchmarks import embed_gate

    data = tmp_path / "unequal.npz"
    rng = np.random.default_rng(1)  # the blobs of tests/test_embedding.py's gate test
    centers = rng.normal(0.0, 3.0, (3, 12))
    sizes = (240, 40, 20)
    parts = [c + rng.normal(0.0, 0.5, (s, 12)) for c, s in zip(centers, sizes, strict=True)]
    X = np.concatenate(parts)
    np.savez(data, X=X.astype(np.float32), y=np.repeat(np.arange(3), sizes))
    out = tmp_path / "gate.json"
    argv = ["--dataset", str(data), "--seeds", "0,", "--embed-epochs", "20", "--out", str(out)]
    assert embed_gate.main(argv) == 0
    report = json.loads(out.read_text())
    assert (report["n"], report["gate"], report["embed_epochs"]) == (300, 0.98, 20)
    result = report["seeds"]["0"]
    assert result["classes"] == pytest.approx(0.6, abs=0.05)  # the blobs' own sizes
    assert result["sizes"] < 0.9 and not result["kept"] and result["acc"] > 0.9
    table = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ")]
    assert len(table) == 2  # header, one seed


def test_longtail_keeps_the_ratio_of_largest_to_smallest_class(tmp_path, capsys):
    from benchmarks import longtail

    out = tmp_path / "digits-lt.npz"
    longtail.main(["--dataset", "digits", "--ratio", "5", "--largest", "150", "--out", str(out)])
    saved = np.load(out)
    sizes = np.bincount(saved["y"])
    assert sizes.tolist() == longtail.class_sizes(10, 150, 5).tolist()
    assert sizes[0] == 150 and sizes[-1] == 30
    assert saved["X"].shape == (sizes.sum(), 64)
    X, y = table2.load_xy("digits")
    nines = np.flatnonzero(y == 9)  # every kept row is a row of the source, with its label
    kept = saved["X"][saved["y"] == 9]
    assert all(any(np.array_equal(row, X[i]) for i in nines) for row in kept)
    assert "normalised entropy" in capsys.readouterr().out
    with pytest.raises(ValueError, match="fewer than the 500 asked"):
        longtail.longtail(X, y, 500, 2.0, 0)
