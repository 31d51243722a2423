"""The benchmark scripts run end to end on tiny settings (their figures live in docs/)."""

import json
import sys
from pathlib import Path

import pytest
import torch

from benchmarks import bench_accuracy, bench_ensemble, table2

ROOT = Path(__file__).resolve().parents[1]
MNIST_DIR = ROOT.parent / "shared" / "data"
TINY = ["--set", "n_models=2", "--set", "hidden=[16]", "--set", "epochs_base=1"]
TINY += ["--set", "epochs_iter=1", "--set", "n_iter=1", "--set", "min_confidence=0"]


@pytest.fixture(autouse=True)
def keep_threads():
    """The scripts set their own torch thread count; the rest of the suite uses one."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_bench_accuracy_digits_writes_tables_and_json(tmp_path, capsys):
    out = tmp_path / "acc.json"
    argv = ["--datasets", "digits", "--seeds", "1", "--no-sweep", "--dot", "none"]
    argv += ["--baselines", "kmeans", "--device", "cpu", "--json", str(out), *TINY]
    assert bench_accuracy.main(argv) == 0
    report = json.loads(out.read_text())
    assert report["command"] == "python -m benchmarks.bench_accuracy " + " ".join(argv)
    entry = report["datasets"]["digits"]
    methods = [row["method"] for row in entry["rows"]]
    assert methods[0] == "K-means" and "Kingdra-Ladder-IM" in methods
    assert any("paper's method" in m for m in methods)  # --ablation defaults to digits
    kingdra = next(r for r in entry["rows"] if r["method"] == "Kingdra-Ladder-IM")
    assert 0.2 < kingdra["acc"][0] <= 1.0
    printed = capsys.readouterr().out
    assert "| Kingdra-Ladder-IM |" in printed and "per iteration" in printed


def test_bench_accuracy_command_line_is_recorded_from_sys_argv(tmp_path, monkeypatch):
    out = tmp_path / "acc.json"
    argv = ["--datasets", "digits", "--seeds", "1", "--no-sweep", "--dot", "none"]
    argv += ["--ablation", "none", "--baselines", "kmeans", "--device", "cpu"]
    argv += ["--json", str(out), *TINY]
    monkeypatch.setattr(sys, "argv", ["bench_accuracy.py", *argv])
    assert bench_accuracy.main() == 0
    report = json.loads(out.read_text())
    assert report["command"].endswith(" ".join(argv))


def test_bench_accuracy_jobs_give_the_same_figures_as_one_process(tmp_path):
    """--jobs trains seeds in worker processes; seeded CPU runs must not change."""
    reports = []
    for jobs in ("1", "2"):
        out = tmp_path / f"acc{jobs}.json"
        argv = ["--datasets", "digits", "--seeds", "2", "--jobs", jobs, "--dot", "none"]
        argv += ["--ablation", "none", "--no-sweep", "--baselines", "kmeans"]
        argv += ["--device", "cpu", "--json", str(out), *TINY]
        assert bench_accuracy.main(argv) == 0
        reports.append(json.loads(out.read_text()))
    one, two = (r["datasets"]["digits"]["runs"]["ladder-im"] for r in reports)
    assert [r["seed"] for r in two] == [0, 1]
    assert [[h["acc"] for h in r["history"]] for r in one] == [
        [h["acc"] for h in r["history"]] for r in two
    ]
    assert reports[1]["jobs"] == 2


def test_bench_accuracy_rejects_zero_jobs(capsys):
    with pytest.raises(SystemExit):
        bench_accuracy.main(["--jobs", "0"])
    assert "--jobs must be >= 1" in capsys.readouterr().err


@pytest.mark.skipif(
    not (MNIST_DIR / "mnist").is_dir(), reason="../shared/data/mnist (full MNIST) is absent"
)
def test_bench_accuracy_mnist_projection(tmp_path):
    out = tmp_path / "mnist.json"
    argv = ["--datasets", "mnist", "--preset", "paper", "--seeds", "1", "--baselines", ""]
    argv += ["--data-dir", str(MNIST_DIR), "--mnist-batches", "3", "--mnist-project"]
    argv += ["--device", "cpu", "--json", str(out), *TINY]
    assert bench_accuracy.main(argv) == 0
    proj = json.loads(out.read_text())["datasets"]["mnist"]["cpu_projection"]
    assert proj["batches_per_epoch"] == 70_000 // 64
    assert proj["seconds_projected_run"] > proj["seconds_one_iteration"] > 0


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
    assert table2.seed_list("1,3") == [1, 3] and table2.seed_list("2") == [0, 1]
    assert "| Kingdra-IMSAT |" in capsys.readouterr().out


@pytest.mark.parametrize("part", ["t_neg", "gate"])
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
    else:
        assert (first["with"]["min_confidence"], first["without"]["min_confidence"]) == (0.9, 0.0)
    for name in ("base", "with", "without"):
        assert 0.1 < report[name][0] <= 1.0


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
    readings = json.loads(out.read_text())["readings"]
    assert [r.get("epoch") for r in readings[:2]] == [1, 2]
    assert readings[2]["iteration"] == 1 and len(readings) == 3
    assert all(0.1 < r["acc"] <= 1.0 and len(r["member_acc"]) == 2 for r in readings)
