"""Command line: ``python -m kingdra fit|predict|datasets``.

Errors in the input (bad options, missing files, data not available offline) print one
``error: ...`` line to stderr and exit with status 2, before any work when it is about the
options or the output folder; Ctrl-C stops training between batches, writes the model as it
was after the last finished step (nothing when the base ensemble was not finished) and exits
with 130.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import os
import re
import shutil
import signal
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Any, TextIO

from kingdra.config import (
    AUTO,
    PRESET_NAMES,
    PRESETS,
    KingdraConfig,
    describe_auto,
    field_kind,
    nonzero_fraction,
    preset_fields,
    resolve_preset,
    settings,
)
from kingdra.data import available, load
from kingdra.device import device_description
from kingdra.engine import Cancelled, KingdraEngine
from kingdra.estimator import KingdraCluster
from kingdra.metrics import ari, cluster_accuracy, nmi

logger = logging.getLogger("kingdra")

EXIT_ERROR = 2
EXIT_INTERRUPTED = 130
CHECKPOINT_NAME = "model.safetensors"


# -- progress bar --------------------------------------------------------------------------
class ProgressBar:
    """A one-line text progress bar redrawn with ``\\r``; fed by the engine's callback.

    On a terminal the bar is redrawn in place; written to a file or a pipe (a log), it is a
    plain line once the first batches have given a time per batch, then every
    `log_interval` seconds and at the end of each phase, so a log holds a few readable lines
    instead of one per update.

    The time left is measured, never promised: the trainer's rate over the batches done so
    far (the first batch, which pays one-time costs, left out; ``eta …`` until two are
    timed). It is the current phase's; with `n_iter` iterations still to come the bar says
    so during the base ensemble (``base; 5 iterations follow``), and from the first
    iteration on adds the whole run's time left (``run ~1m10s``), from that iteration's own
    estimate and the graph step before it.

    Parameters
    ----------
    stream : text stream
        Where to draw (stderr).
    width : int
        Characters of the bar itself.
    min_interval : float
        Seconds between redraws on batch events on a terminal (epoch events always redraw).
    interactive : bool, optional
        Redraw in place; default: whether `stream` is a terminal.
    log_interval : float
        Seconds between lines when not interactive.
    n_iter : int
        Kingdra iterations planned after the base ensemble (0: the base ensemble is the run).
    """

    def __init__(
        self,
        stream: TextIO,
        width: int = 24,
        min_interval: float = 0.1,
        interactive: bool | None = None,
        log_interval: float = 10.0,
        n_iter: int = 0,
    ) -> None:
        self.stream = stream
        self.width = width
        self.min_interval = min_interval
        if interactive is None:
            isatty = getattr(stream, "isatty", None)
            interactive = bool(isatty and isatty())
        self.interactive = interactive
        self.log_interval = log_interval
        self.n_iter = n_iter
        self._last_draw = 0.0
        self._last_line = time.perf_counter()
        self._line_len = 0
        self._phase: tuple[str, int] | None = None
        self._phase_end: float | None = None  # when the last phase finished
        self._gap_s = 0.0  # from the last phase's end to this one's first batch (the graph)
        self._estimated = False  # this phase's first estimate was written to the log

    @staticmethod
    def format(progress: Any, width: int = 24, plan: str = "") -> str:
        """The text of the bar for one :class:`~kingdra.engine.Progress`.

        `plan` follows the time left in brackets (what it covers, the run's time left).
        """
        total = max(progress.n_epochs * progress.n_batches, 1)
        done = (progress.epoch - 1) * progress.n_batches + progress.batch
        frac = min(max(done / total, 0.0), 1.0)
        filled = int(round(frac * width))
        label = (
            progress.phase
            if progress.phase in ("embed", "base", "pilot")
            else f"iter {progress.iteration}"
        )
        loss = progress.loss.get("total", progress.loss.get("loss"))
        loss_text = f" loss {loss:.4g}" if isinstance(loss, float) and math.isfinite(loss) else ""
        eta = progress.eta_s
        eta_text = _duration(eta) if isinstance(eta, float | int) and math.isfinite(eta) else "…"
        return (
            f"{label:>7} epoch {progress.epoch}/{progress.n_epochs} "
            f"[{'#' * filled}{'.' * (width - filled)}] {frac * 100:3.0f}%"
            f"{loss_text} {_duration(progress.elapsed_s)} eta {eta_text}"
            + (f" ({plan})" if plan else "")
        )

    def plan(self, progress: Any) -> str:
        """What the time left covers, and the whole run's time left once it can be measured."""
        if progress.phase == "embed":  # kingdra.embedding, before everything else
            return "autoencoder; UMAP and the base phase follow"
        if progress.phase == "pilot":  # kingdra.pilot, before the base phase
            return "mu pilot; the base phase follows"
        more = self.n_iter - (0 if progress.phase == "base" else progress.iteration)
        if more <= 0:
            return ""
        if progress.phase == "base":  # an iteration's time is not known before one runs
            return f"base; {more} iteration{'s follow' if more > 1 else ' follows'}"
        eta = progress.eta_s
        if not (isinstance(eta, float | int) and math.isfinite(eta)):
            return ""
        per_iteration = self._gap_s + progress.elapsed_s + eta
        return f"run ~{_duration(eta + more * per_iteration)}"

    def __call__(self, progress: Any) -> None:
        now = time.perf_counter()
        phase = (progress.phase, progress.iteration)
        if phase != self._phase:
            self._phase = phase
            self._gap_s = now - self._phase_end if self._phase_end is not None else 0.0
            self._estimated = False
        last_epoch_end = progress.event == "epoch" and progress.epoch == progress.n_epochs
        if last_epoch_end:
            self._phase_end = now
        if not self.interactive:
            eta = progress.eta_s
            first_estimate = (
                not self._estimated
                and isinstance(eta, float | int)
                and math.isfinite(eta)
                and (progress.elapsed_s >= 2.0 or progress.batch >= 5 or progress.epoch > 1)
            )
            if first_estimate or last_epoch_end or now - self._last_line >= self.log_interval:
                self._estimated = self._estimated or first_estimate or last_epoch_end
                self._last_line = now
                self.stream.write(self.format(progress, self.width, self.plan(progress)) + "\n")
                self.stream.flush()
            return
        if progress.event == "batch" and now - self._last_draw < self.min_interval:
            return
        self._last_draw = now
        text = self.format(progress, self.width, self.plan(progress))
        text = text[: shutil.get_terminal_size().columns - 1]  # a wrapped line is not redrawn
        pad = " " * max(self._line_len - len(text), 0)
        self.stream.write("\r" + text + pad)
        self._line_len = len(text)
        if last_epoch_end:
            self.stream.write("\n")
            self._line_len = 0
        self.stream.flush()

    def clear(self) -> None:
        """Erase the current bar line (before a log message is written)."""
        if self._line_len:
            self.stream.write("\r" + " " * self._line_len + "\r")
            self._line_len = 0


def _duration(seconds: float) -> str:
    """``42s`` or ``3m05s``."""
    seconds = max(int(round(seconds)), 0)
    return f"{seconds}s" if seconds < 60 else f"{seconds // 60}m{seconds % 60:02d}s"


class _BarAwareHandler(logging.StreamHandler):
    """Log handler that erases the progress bar before writing a line."""

    def __init__(self, stream: TextIO, bar: ProgressBar | None) -> None:
        super().__init__(stream)
        self.bar = bar

    def emit(self, record: logging.LogRecord) -> None:
        if self.bar is not None:
            self.bar.clear()
        super().emit(record)


# -- argument parsing ----------------------------------------------------------------------
def _whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def _at_least(low: int):
    """An argparse type: a whole number >= `low` (the message says so)."""

    def parse(text: str) -> int:
        value = _whole_number(text)
        if value < low:
            raise argparse.ArgumentTypeError(f"expected a whole number >= {low}, got {value}")
        return value

    parse.__name__ = f"whole number >= {low}"
    return parse


def _columns(text: str) -> list[str]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected column names separated by commas, got {text!r}")
    return names


def _separator(text: str) -> str:
    named = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "space": " ", "pipe": "|"}
    value = named.get(text.lower(), text)
    if not value:
        raise argparse.ArgumentTypeError("the separator must not be empty")
    return value


def _checksum(text: str) -> tuple[str, str]:
    name, _, value = text.partition("=")
    if not name.strip() or not value.strip():
        raise argparse.ArgumentTypeError(f"expected FILE=HEX, got {text!r}")
    return name.strip(), value.strip().lower()


def _hidden(text: str) -> tuple[int, ...]:
    try:
        widths = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated layer widths like 256,256, got {text!r}"
        ) from None
    if not widths or any(w < 1 for w in widths):
        raise argparse.ArgumentTypeError(f"layer widths must be positive, got {text!r}")
    return widths


def _floats(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers like 1000,10,0.1,0.1, got {text!r}"
        ) from None
    if not values:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}")
    return values


_PARSE = {int: (_whole_number, "N"), float: (float, "X")}
_OWN_FLAGS = ("n_clusters", "seed")  # --n-clusters (from the data) and --seed have their own


def _add_config_options(p: argparse.ArgumentParser) -> None:
    """One flag per setting of :class:`~kingdra.config.KingdraConfig`, from its metadata.

    The config checks the values (its messages name the field), so the flags only parse.
    """
    group = p.add_argument_group(
        "settings", "Each overrides the preset's value; docs/presets.md lists them all."
    )
    presets = {name: KingdraConfig.from_preset(name) for name in PRESETS}
    for f in settings():
        if f.name in _OWN_FLAGS:
            continue
        meta = f.metadata
        flag = "--" + f.name.replace("_", "-")
        if f.name in preset_fields() or f.name in ("n_models", "base"):  # None: the preset's
            shown = ", ".join(f"{n} {getattr(c, f.name)!r}" for n, c in presets.items())
            default_text = f"default: the preset's ({shown})"
            options: dict[str, Any] = {"default": None}
        else:
            default_text = f"default: {f.default}"
            options = {"default": f.default}
        if meta["choices"]:
            options["choices"] = meta["choices"]
        elif f.name == "hidden":
            options.update(type=_hidden, metavar="W,W")
        elif f.name == "denoise_weights":
            options.update(type=_floats, metavar="X,X")
        else:
            options["type"], options["metavar"] = _PARSE[field_kind(f)]
        allowed = f"; {meta['range'].describe()}" if meta["range"] else ""
        text = f"{meta['help']} ({default_text}{allowed})".replace("%", "%%")
        group.add_argument(flag, help=text, **options)


def _add_data_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--dataset",
        required=True,
        metavar="NAME|PATH",
        help="built-in name (see `python -m kingdra datasets`: digits, mnist5k, mnist, "
        "fashion-mnist, 20news, reuters, cifar10) or a path to a .npy, .npz, .csv, .tsv, .parquet "
        "or .zip of images",
    )
    p.add_argument(
        "--data-dir",
        metavar="DIR",
        help="folder holding (or caching) downloaded datasets, e.g. ../shared/data for "
        "mnist/*.gz; default $KINGDRA_DATA or a per-user cache folder",
    )
    table = p.add_argument_group(
        "tables (.csv, .tsv, .parquet)",
        "A column named y, labels, label or target (any case) is taken as the labels unless "
        "told otherwise; the log says which columns were used.",
    )
    labels = table.add_mutually_exclusive_group()
    labels.add_argument(
        "--label-column",
        metavar="COL",
        help="the column with true labels (used only to report ACC/NMI/ARI, never to train); "
        "default: found by its name",
    )
    labels.add_argument(
        "--no-label-column",
        action="store_true",
        help="no label column: every numeric column is a feature, even one named label",
    )
    table.add_argument(
        "--text-column",
        metavar="COL",
        help="cluster the text of this column (tf-idf of its 2,000 most frequent words)",
    )
    table.add_argument(
        "--ignore-columns",
        type=_columns,
        metavar="A,B",
        help="columns to leave out of the features, comma-separated",
    )
    table.add_argument(
        "--sep",
        type=_separator,
        metavar="SEP",
        help="field separator of a .csv/.tsv (default , or tab; names: tab, semicolon, "
        "space, pipe)",
    )
    p.add_argument(
        "--drop-nonfinite",
        action="store_true",
        help="drop rows with NaN or infinite values (and say how many) instead of stopping",
    )
    news = p.add_argument_group("downloaded built-ins")
    news.add_argument(
        "--remove",
        metavar="PARTS",
        help="20news: parts stripped from every post, comma-separated from headers,footers,"
        "quotes, or none to keep posts whole as the paper does (default: all three)",
    )
    news.add_argument(
        "--checksum",
        type=_checksum,
        action="append",
        metavar="FILE=HEX",
        help="accept a placed file with this checksum instead of the built-in one (sha256; md5 "
        "for fashion-mnist and cifar10 archives); repeatable",
    )
    p.add_argument(
        "--preprocess",
        choices=("none", "scale01", "standardize"),
        default="none",
        help="scaling applied after loading (built-in image sets are already in [0, 1]; "
        "default: none)",
    )
    p.add_argument("--pca", type=_at_least(1), metavar="N", help="reduce features to N components")
    p.add_argument(
        "--offline",
        action="store_true",
        help="never download: fail with a message naming the files to place if missing",
    )
    p.add_argument(
        "--device",
        default="auto",
        choices=("auto", "cpu", "cuda", "mps"),
        help="auto = CUDA, then Apple MPS, then CPU (default: auto)",
    )
    p.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="folder for the output files (created; checked before any work)",
    )
    p.add_argument(
        "--quiet", action="store_true", help="no progress bar, no log lines; errors only"
    )


def build_parser() -> argparse.ArgumentParser:
    """The ``kingdra`` argument parser (every option documented in ``--help``)."""
    parser = argparse.ArgumentParser(
        prog="kingdra" if Path(sys.argv[0]).name == "kingdra" else "python -m kingdra",
        description="Kingdra clustering (ICLR 2020): an ensemble of ladder networks, an "
        "agreement graph and pseudo-labels, iterated. See docs/cli.md.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    fit = sub.add_parser(
        "fit",
        help="cluster a dataset; writes labels.csv, metrics.json, model.safetensors",
        description="Train a Kingdra ensemble on a dataset and write, under --out: "
        "labels.csv (index,label[,true]), metrics.json (acc/nmi/ari when labels are known, "
        f"seconds, device, config, per-iteration history) and {CHECKPOINT_NAME}.",
    )
    _add_data_options(fit)
    fit.add_argument(
        "--preset",
        default=AUTO,
        choices=PRESET_NAMES,
        help=(
            "named settings (docs/presets.md); the options below override them "
            "(default: auto, the preset for the data's size and sparsity: "
            f"{describe_auto()})"
        )
        .replace("``", "")
        .replace("%", "%%"),  # argparse formats help with %
    )
    fit.add_argument(
        "--n-clusters",
        type=_whole_number,
        metavar="K",
        help="number of clusters (default: the number of classes of a labelled dataset)",
    )
    _add_config_options(fit)
    fit.add_argument(
        "--seed", type=_at_least(0), default=0, metavar="N", help="random seed (default: 0)"
    )
    fit.set_defaults(handler=_cmd_fit)

    predict = sub.add_parser(
        "predict",
        help="label a dataset with a saved model; writes labels.csv and metrics.json",
        description="Load a model saved by `fit` and write labels.csv and metrics.json "
        "(acc/nmi/ari when the dataset has labels) under --out.",
    )
    predict.add_argument(
        "--checkpoint", required=True, metavar="FILE", help=f"a {CHECKPOINT_NAME} from `fit`"
    )
    _add_data_options(predict)
    predict.set_defaults(handler=_cmd_predict)

    datasets = sub.add_parser("datasets", help="list the built-in datasets")
    datasets.set_defaults(handler=_cmd_datasets)
    return parser


# -- commands ------------------------------------------------------------------------------
def _load_dataset(args: argparse.Namespace):
    options: dict[str, Any] = {}
    if args.label_column is not None:
        options["label_column"] = args.label_column
    if args.no_label_column:
        options["label_column"] = False
    for name in ("text_column", "ignore_columns", "sep"):
        if getattr(args, name) is not None:
            options[name] = getattr(args, name)
    if args.drop_nonfinite:
        options["drop_nonfinite"] = True
    if args.remove is not None:
        options["remove"] = () if args.remove.strip().lower() == "none" else args.remove
    if args.checksum:
        options["checksums"] = dict(args.checksum)
    name = args.dataset.strip().lower()
    if args.offline and name in available() and name not in ("digits", "mnist5k"):
        options["download"] = False
    ds = load(
        args.dataset, data_dir=args.data_dir, preprocess=args.preprocess, pca=args.pca, **options
    )
    logger.info("loaded %s", cli_advice(ds.description))
    return ds


# The library's messages name its keyword arguments; on the command line they are flags.
_FLAGS = {
    "label_column": "--label-column",
    "text_column": "--text-column",
    "ignore_columns": "--ignore-columns",
    "feature_columns": "feature_columns= (Python only)",
    "sep": "--sep",
    "remove": "--remove",
    "checksums": "--checksum",
    "drop_nonfinite": "--drop-nonfinite",
}
_FLAG_ADVICE = (
    (re.compile(r"\bdrop_nonfinite=True\b"), "--drop-nonfinite"),
    (re.compile(r"\blabel_column=False\b"), "--no-label-column"),
    (re.compile(r"\blabel_column='<name>'"), "--label-column NAME"),
    (re.compile(r"\btext_column='<name>'"), "--text-column NAME"),
    (re.compile(r"\bignore_columns=\[\.\.\.\]"), "--ignore-columns A,B"),
    (re.compile(r"\bchecksums=\{'([^']+)': '<(sha256|md5)>'\}"), r"--checksum \1=<\2>"),
    (re.compile(r"\bpass data_dir= / set KINGDRA_DATA\b"), "pass --data-dir / set KINGDRA_DATA"),
    (re.compile(r"\bset mirror= / (KINGDRA_\w+_MIRROR)\b"), r"set the environment variable \1"),
    (re.compile(r"\(option mirror=\)"), "(a KINGDRA_..._MIRROR environment variable)"),
    (re.compile(r"\bmax_bytes="), "max_bytes= (Python only)"),
    (re.compile(rf"\b({'|'.join(_FLAGS)})=(?=[\s.,;)]|$)"), None),
)


_SETTING_MESSAGE = re.compile(r"^(\w+)( must be .*?)\b1\.\.n_models=(\d+)")


def cli_advice(message: str) -> str:
    """A library message with its keyword arguments replaced by this command's flags."""
    for pattern, flag in _FLAG_ADVICE:
        message = pattern.sub(flag if flag is not None else lambda m: _FLAGS[m.group(1)], message)
    # The config's "t_pos must be an integer in 1..n_models=10": the flags' names.
    message = _SETTING_MESSAGE.sub(
        lambda m: (
            f"--{m.group(1).replace('_', '-')}{m.group(2)}1..{m.group(3)} (--n-models {m.group(3)})"
        ),
        message,
    )
    message = re.sub(
        rf"^({'|'.join(f.name for f in settings())}) must be",
        lambda m: f"--{m.group(1).replace('_', '-')} must be",
        message,
    )
    if message.startswith("Option(s) "):  # "Option(s) x do not apply ...; its options are: ..."
        names = "|".join(_FLAGS)
        message = re.sub(rf"\b({names})\b", lambda m: _FLAGS[m.group(1)], message)
    return message


def check_output_folder(out: Path, files: tuple[str, ...]) -> None:
    """Fail now, before any loading or training, if `out` could not receive `files`.

    Raises
    ------
    ValueError
        When `out` (or a folder above it) is a file, is not writable, or one of the output
        names inside it is a folder.
    """
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file; give a folder (it is created if missing)")
    existing = out
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(f"--out {out}: {existing} is a file, so the folder cannot be created")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"--out {out}: no permission to write in {existing}")
    for name in files:
        target = out / name
        if target.exists() and not target.is_file():
            raise ValueError(f"--out {out}: {target} exists and is not a file; move it away")
        if target.exists() and not os.access(target, os.W_OK):
            raise ValueError(f"--out {out}: {target} exists and is not writable")


def _scores(y, labels) -> dict[str, float]:
    return {
        "acc": float(cluster_accuracy(y, labels)),
        "nmi": float(nmi(y, labels)),
        "ari": float(ari(y, labels)),
    }


def write_labels(path: Path, labels, y=None) -> None:
    """``index,label[,true]`` for every row."""
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["index", "label", "true"] if y is not None else ["index", "label"])
        for i, label in enumerate(labels):
            row = [i, int(label)] + ([int(y[i])] if y is not None else [])
            writer.writerow(row)


def _write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, allow_nan=True) + "\n")


def estimator_from_args(args: argparse.Namespace, k: int) -> KingdraCluster:
    """The estimator ``fit``'s flags describe, with ``k`` clusters (None flags: the preset's)."""
    overrides = {name: getattr(args, name) for name in ("n_models", *preset_fields())}
    return KingdraCluster(
        n_clusters=k,
        base=args.base,
        preset=args.preset,
        stage=args.stage,
        device=args.device,
        random_state=args.seed,
        **overrides,
    )


def _cmd_fit(args: argparse.Namespace, bar: ProgressBar | None) -> int:
    out = Path(args.out)
    check_output_folder(out, ("labels.csv", "metrics.json", CHECKPOINT_NAME))
    # The settings are checked before the data is loaded (k from the data comes later; auto
    # is checked with its preset for small data, and again once the rows are known).
    estimator_from_args(args, args.n_clusters if args.n_clusters is not None else 2).make_config(1)
    ds = _load_dataset(args)
    k = args.n_clusters if args.n_clusters is not None else ds.n_classes
    if k is None:
        raise ValueError(f"{ds.name} has no labels: give the number of clusters with --n-clusters")
    estimator = estimator_from_args(args, k)
    nonzero = nonzero_fraction(ds.X)
    config = estimator.make_config(ds.X.shape[0], nonzero)  # before any training
    engine = KingdraEngine(ds.X, config, y_eval=ds.y, device=args.device)
    if bar is not None:
        bar.n_iter = config.n_iter if config.stage == "kingdra" else 0
    preset = resolve_preset(args.preset, ds.X.shape[0], nonzero)
    logger.info(
        "%s: n=%d, d=%d, k=%d, preset %s on %s",
        ds.name,
        ds.X.shape[0],
        ds.X.shape[1],
        k,
        preset if preset == args.preset else f"{args.preset} -> {preset}",
        device_description(engine.device),
    )

    previous = signal.getsignal(signal.SIGINT)

    def on_sigint(signum, frame):  # first Ctrl-C: stop after this batch; second: default
        logger.warning("stopping after the current batch (Ctrl-C again to abort)")
        engine.request_stop()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    stopped = False
    start = time.perf_counter()
    in_main_thread = _in_main_thread()
    if in_main_thread:
        signal.signal(signal.SIGINT, on_sigint)
    try:
        engine.train_base(callback=bar)
        if bar is not None:  # the representation's gate may have changed the iterations
            bar.n_iter = engine.config.n_iter if engine.config.stage == "kingdra" else 0
        engine.run(callback=bar)
    except Cancelled as err:
        stopped = True
        logger.warning("stopped: %s", err)
    finally:
        if in_main_thread:
            signal.signal(signal.SIGINT, previous)
    seconds = time.perf_counter() - start

    if not engine.base_trained:
        logger.warning(
            "stopped before the base ensemble finished: nothing to save, nothing written to %s",
            out,
        )
        return EXIT_INTERRUPTED
    out.mkdir(parents=True, exist_ok=True)
    metrics: dict[str, Any] = {
        "dataset": ds.name,
        "n": int(ds.X.shape[0]),
        "d": int(ds.X.shape[1]),
        "k": int(k),
        "label_column": ds.extra.get("label_column"),
        "preset": preset,
        "seconds": round(seconds, 3),
        "device": device_description(engine.device),
        "stopped": stopped,
        "iterations": int(engine.iteration),
        "config": engine.config.to_dict(),  # with the mu pilot's choice, if any
        "history": engine.history,  # kingdra.history.Record's JSON, one per phase
    }
    labels = estimator.set_engine(
        engine
    ).labels_  # numbered 0..c-1 as `predict` on the checkpoint numbers them
    if ds.y is not None:
        metrics.update(_scores(ds.y, labels))
    write_labels(out / "labels.csv", labels, ds.y)
    _write_json(out / "metrics.json", metrics)
    estimator.save(out / CHECKPOINT_NAME)
    summary = ", ".join(
        f"{key} {metrics[key]:.4f}" for key in ("acc", "nmi", "ari") if key in metrics
    )
    if stopped:
        logger.warning(
            "stopped after %d of %d iteration(s) (%.1f s%s): wrote the model as it was after "
            'the last finished step to %s (metrics.json says "stopped": true)',
            engine.iteration,
            engine.config.n_iter if engine.config.stage == "kingdra" else 0,
            seconds,
            f"; {summary}" if summary else "",
            out,
        )
        return EXIT_INTERRUPTED
    logger.info("done in %.1f s%s; wrote %s", seconds, f" ({summary})" if summary else "", out)
    return 0


def _cmd_predict(args: argparse.Namespace, bar: ProgressBar | None) -> int:
    out = Path(args.out)
    check_output_folder(out, ("labels.csv", "metrics.json"))
    model = KingdraCluster.load(args.checkpoint, device=args.device)
    ds = _load_dataset(args)
    labels = model.predict(ds.X)
    out.mkdir(parents=True, exist_ok=True)
    metrics: dict[str, Any] = {
        "dataset": ds.name,
        "checkpoint": str(args.checkpoint),
        "n": int(ds.X.shape[0]),
        "d": int(ds.X.shape[1]),
    }
    if ds.y is not None:
        metrics.update(_scores(ds.y, labels))
    write_labels(out / "labels.csv", labels, ds.y)
    _write_json(out / "metrics.json", metrics)
    logger.info("labelled %d rows; wrote %s", len(labels), out)
    return 0


def _cmd_datasets(args: argparse.Namespace, bar: ProgressBar | None) -> int:
    for name, line in available().items():
        sys.stdout.write(f"{name:<15} {line}\n")
    return 0


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


# -- entry point ---------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 2 bad input, 130 stopped)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    quiet = getattr(args, "quiet", False)
    bar = None if quiet else ProgressBar(sys.stderr)
    handler = _BarAwareHandler(sys.stderr, bar)
    handler.setFormatter(logging.Formatter("%(message)s"))
    old_level, old_propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.ERROR if quiet else logging.INFO)
    logger.propagate = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # the same text is logged as well
            return args.handler(args, bar)
    except (ValueError, OSError) as err:
        if bar is not None:
            bar.clear()
        message = cli_advice(str(err) or type(err).__name__)
        if isinstance(err, FileNotFoundError) and err.filename:
            message = f"{err.filename}: file not found"
        sys.stderr.write(f"error: {message}\n")
        return EXIT_ERROR
    except KeyboardInterrupt:
        sys.stderr.write("\ninterrupted\n")
        return EXIT_INTERRUPTED
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
        logger.propagate = old_propagate
