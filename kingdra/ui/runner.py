"""Background training for the app: one worker thread per session, progress in a locked board.

The Streamlit script thread starts a job and returns at once; the worker calls the engine
with a progress callback that writes to :class:`ProgressBoard`; a fragment polls
:meth:`TrainingRunner.snapshot` to draw the progress bar and loss curves;
:class:`PreviewSchedule` says when the base phase publishes a preview of its predictions.
The worker never touches Streamlit. ``sync=True`` runs the job in the caller's thread
(tests, scripts).
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from kingdra.engine import Cancelled

logger = logging.getLogger(__name__)

MAX_LOSS_POINTS = 400  # loss history kept for the live curves (older points thinned out)
FIRST_PREVIEW_S = 20.0  # seconds of base training after which the first preview is due


@dataclass
class ProgressSnapshot:
    """A copy of the training progress, safe to read from any thread."""

    status: str = "idle"  # idle | running | done | stopped | error
    job: str = ""  # what is running, for humans ("base ensemble", "iteration 2 of 3")
    phase: str = ""
    epoch: int = 0
    n_epochs: int = 0
    batch: int = 0
    n_batches: int = 0
    fraction: float = 0.0  # of the whole job, 0..1
    elapsed_s: float = 0.0
    eta_s: float | None = None
    losses: list[dict[str, float]] = field(default_factory=list)
    message: str = ""
    error: str = ""
    started_at: float = 0.0
    finished_at: float = 0.0

    @property
    def running(self) -> bool:
        return self.status == "running"


class ProgressBoard:
    """Thread-safe progress written by the worker and read by the page."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state = ProgressSnapshot()

    def reset(self, job: str) -> None:
        with self._lock:
            self._state = ProgressSnapshot(status="running", job=job, started_at=time.time())

    def update(self, **values) -> None:
        with self._lock:
            for key, value in values.items():
                setattr(self._state, key, value)

    def add_loss(self, loss: dict[str, float]) -> None:
        with self._lock:
            losses = self._state.losses
            losses.append({k: float(v) for k, v in loss.items()})
            if len(losses) > MAX_LOSS_POINTS:
                del losses[::2]  # keep the whole run visible at half the resolution

    def snapshot(self) -> ProgressSnapshot:
        with self._lock:
            return copy.deepcopy(self._state)


def progress_fraction(progress, part: int = 0, n_parts: int = 1) -> float:
    """Fraction of a job done, from an engine ``Progress`` inside part ``part`` of ``n_parts``.

    ``Progress.epoch`` and ``Progress.batch`` are 1-based (:class:`kingdra.engine.Progress`).
    """
    n_epochs = max(int(getattr(progress, "n_epochs", 1) or 1), 1)
    n_batches = max(int(getattr(progress, "n_batches", 1) or 1), 1)
    epoch = max(int(getattr(progress, "epoch", 1) or 1), 1)
    batch = int(getattr(progress, "batch", 0) or 0)
    within = min((epoch - 1 + min(batch, n_batches) / n_batches) / n_epochs, 1.0)
    return min((part + within) / max(n_parts, 1), 1.0)


def epochs_done(progress) -> float:
    """Epochs of the call done at an engine ``Progress`` (2.0 at the end of epoch 2)."""
    n_batches = max(int(progress.n_batches), 1)
    return progress.epoch - 1 + min(int(progress.batch), n_batches) / n_batches


class PreviewSchedule:
    """When the base phase publishes a preview of the ensemble's predictions.

    The first after 2 epochs or ``first_after_s`` seconds of training, whichever comes first
    (on large data, within the first epoch), then at the end of every tenth of the epochs,
    never at the end (the phase's own prediction follows), and only while the previews so
    far took at most ``share`` of the training time. On the shared 2-core CPU a preview of
    MNIST-5k with ``imsat`` took 0.6-0.7 s against 3.5-6 s an epoch (the first 1.7 s, with
    the nearest neighbours its merge needs anyway); one of 70,000 x 784 rows with
    ``imsat-large`` 5 s against 2 min 15 s an epoch (load 4): training is never slowed by
    more than about ``share``.

    Parameters
    ----------
    n_epochs : int
        Epochs of the phase.
    parts : int
        A preview every ``n_epochs / parts`` epochs.
    share : float
        Largest fraction of the training time that previews may have taken.
    first_after_s : float
        Seconds of training after which the first preview is due, mid-epoch if need be.
    """

    def __init__(
        self,
        n_epochs: int,
        parts: int = 10,
        share: float = 0.05,
        first_after_s: float = FIRST_PREVIEW_S,
    ) -> None:
        self.n_epochs = int(n_epochs)
        self.every = max(1, round(self.n_epochs / parts))
        self.share = share
        self.first_after_s = first_after_s
        self.spent_s = 0.0  # seconds the previews took so far
        self.count = 0
        self.last = 0.0  # epochs done at the last preview

    def due(self, progress) -> bool:
        """Whether to publish a preview at this engine ``Progress`` (a batch's or an epoch's).

        Never during what precedes the base epochs: the representation's autoencoder
        (:mod:`kingdra.embedding`), whose members do not exist yet, and the ``mu`` pilot
        (:mod:`kingdra.pilot`), whose members are not the ensemble's.
        """
        if progress.phase != "base":
            return False
        done = epochs_done(progress)
        if done >= self.n_epochs or done <= self.last:
            return False
        end = progress.event == "epoch"
        if self.count == 0:  # the first view comes early, whatever it costs
            return (end and done >= 2) or progress.elapsed_s >= self.first_after_s
        return (
            end
            and round(done) % self.every == 0
            and self.spent_s <= self.share * progress.elapsed_s
        )

    def record(self, progress, seconds: float) -> None:
        """A preview was published at ``progress`` and took ``seconds``."""
        self.count += 1
        self.spent_s += seconds
        self.last = epochs_done(progress)


class TrainingRunner:
    """Runs one training job at a time for one session, in a daemon thread.

    "One at a time" is enforced here, not by the buttons: :meth:`start` claims the runner
    under a lock before anything else, so two reruns of the page (a form submitted with
    Enter, then a click) cannot both start a job, whatever the browser showed.

    Parameters
    ----------
    sync : bool
        Run jobs in the calling thread (blocking); for tests and scripts.
    """

    def __init__(self, sync: bool = False) -> None:
        self.sync = sync
        self.board = ProgressBoard()
        self._thread: threading.Thread | None = None
        self._stop_hook: Callable[[], None] | None = None
        self._lock = threading.Lock()
        self._busy = False  # claimed by start() until the job has finished

    def is_running(self) -> bool:
        return self._busy

    def start(
        self,
        job: Callable[[ProgressBoard], str],
        description: str,
        stop_hook: Callable[[], None] | None = None,
        prepare: Callable[[], None] | None = None,
    ) -> None:
        """Run ``job(board)``; its return value becomes the final message.

        ``prepare()`` runs first, once the runner is claimed (e.g. replacing the session's
        engine, which must not happen while another job uses it); if it raises, nothing is
        started and the error propagates. ``stop_hook`` is called by :meth:`stop` (e.g.
        ``engine.request_stop``); a job that raises ``Cancelled`` ends as ``stopped``.

        Raises
        ------
        ValueError
            If a job is already running.
        """
        with self._lock:
            if self._busy:
                raise ValueError("training is already running; stop it or wait for it to finish")
            self._busy = True
        try:
            if prepare is not None:
                prepare()
            self.board.reset(description)
            self._stop_hook = stop_hook
            if not self.sync:
                self._thread = threading.Thread(
                    target=self._work, args=(job,), name="kingdra-training", daemon=True
                )
                self._thread.start()
        except BaseException:
            self._busy = False
            raise
        if self.sync:
            self._work(job)

    def _work(self, job: Callable[[ProgressBoard], str]) -> None:
        try:
            message = job(self.board)
        except Cancelled as err:
            self.board.update(
                status="stopped", message=f"stopped: {err}" if str(err) else "stopped"
            )
        except Exception as err:  # the worker must report, not die silently
            logger.exception("training job failed")
            self.board.update(status="error", error=f"{type(err).__name__}: {err}")
        else:
            self.board.update(status="done", message=message or "done", fraction=1.0, eta_s=0.0)
        finally:
            self.board.update(finished_at=time.time())
            self._busy = False

    def stop(self) -> None:
        """Ask the running job to stop (takes effect between batches)."""
        if self._stop_hook is not None and self.is_running():
            self._stop_hook()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the worker thread (tests)."""
        if self._thread is not None:
            self._thread.join(timeout)

    def clear(self) -> None:
        """Forget the last job's progress, losses and message (a new dataset was loaded).

        Raises
        ------
        ValueError
            While a job runs.
        """
        with self._lock:
            if self._busy:
                raise ValueError("stop the training first")
            self.board = ProgressBoard()

    def snapshot(self) -> ProgressSnapshot:
        return self.board.snapshot()
