"""The Train page's words and defaults, without Streamlit."""

from __future__ import annotations

from kingdra.config import KingdraConfig, Thresholds
from kingdra.ui import train_view
from kingdra.ui.runner import FIRST_PREVIEW_S, ProgressSnapshot
from kingdra.ui.train_view import form_fields


def test_the_preset_box_says_what_auto_picks_and_what_each_preset_costs():
    assert train_view.preset_label("auto", 1797) == "auto: fast for 1,797 rows"
    assert train_view.preset_label("auto", 70_000) == "auto: imsat-large for 70,000 rows"
    assert train_view.preset_label("imsat", 70_000) == "imsat"
    assert train_view.preset_label("auto", 5000) == "auto: imsat-ae-umap for 5,000 rows"
    sparse = train_view.preset_label("auto", 7309, nonzero=0.02)
    assert sparse == "auto: imsat for 7,309 rows of sparse data"
    text = train_view.preset_help()
    assert "fast below 3,000" in text and "``" not in text
    assert "MNIST-5k: base ensemble 5 min 7 s" in text and "load 3-4" in text


def test_form_defaults_come_from_the_run_the_environment_or_the_preset():
    run = KingdraConfig.from_preset("fast", n_clusters=7, base="ladder-dot")
    assert train_view.form_base("imsat", {"base": "ladder-im"}, run) == "ladder-dot"
    assert train_view.form_base("imsat", {"base": "ladder-im"}) == "ladder-im"
    assert train_view.form_base("imsat", {}) == "imsat"
    assert train_view.suggested_k(run, 10) == 7
    assert train_view.suggested_k(None, 10) == 10
    assert train_view.suggested_k(None, 1) == 2 and train_view.suggested_k(None, 5000) == 1000
    assert train_view.suggested_k(None, None) is None


def test_number_widgets_take_the_fields_range_and_kind():
    fields = {f.name: f for f in form_fields()}
    lr = fields["lr"].number_input
    assert lr["format"] == "%g" and isinstance(lr["min_value"], float)
    models = fields["n_models"].number_input
    assert models["format"] == "%d" and models["min_value"] == 1
    assert isinstance(models["min_value"], int)


def test_run_texts():
    config = KingdraConfig.from_preset("fast", n_clusters=10)
    caption = train_view.next_iterations_caption(config, Thresholds(8, 9, 20, 0.5))
    assert caption.startswith("k = 10 clusters. Next iterations use t_pos=8, t_neg=9, 20 ")
    assert "(one per fine cluster: 2 for each of the k = 10 clusters)" in caption
    assert caption.endswith("min_confidence=0.50 (set them on the Graph page).")
    plain = train_view.next_iterations_caption(config.replace(overcluster=1), Thresholds(8, 9, 10))
    assert "10 mini-clusters, min_confidence=0.00" in plain
    assert train_view.edits_caption(0) == ""
    assert "with 2 edit(s) of yours (Clusters page)" in train_view.edits_caption(2)
    assert train_view.idle_text(None, "digits").startswith("Not trained yet")
    assert train_view.idle_text("iteration 2", "digits").startswith(
        "Run state: iteration 2 (digits). Run more iterations"
    )
    assert f"{FIRST_PREVIEW_S:g} s" in train_view.FIRST_PREVIEW_NOTE
    done = ProgressSnapshot(status="done", message="base ensemble trained", finished_at=75.0)
    assert train_view.done_text(done) == "base ensemble trained in 1 min 15 s."
    stopped = ProgressSnapshot(status="stopped", message="stopped")
    assert train_view.stopped_text(stopped, True).endswith("The last finished step is kept.")
    assert train_view.stopped_text(stopped, False) == "Training stopped. Nothing is kept."
    record = {"iteration": 2, "acc": 0.91234, "nmi": 0.8}
    assert train_view.record_caption([{"iteration": 0}, record]).startswith(
        "Iteration 2: ACC 0.912, NMI 0.800"
    )
    assert train_view.record_caption([{"iteration": 0}]) == ""
    assert train_view.record_caption([]) == ""


def test_checkpoint_note_says_when_one_can_be_downloaded():
    assert train_view.checkpoint_note(True, False, "iteration 1") == ""
    assert "(now at iteration 1)" in train_view.checkpoint_note(True, True, "iteration 1")
    assert "once the base ensemble is done" in train_view.checkpoint_note(False, True, "")
    assert "once something is trained" in train_view.checkpoint_note(False, False, "")
    assert train_view.checkpoint_name("digits", 3) == "kingdra-digits-it3.safetensors"


def test_decisions_caption_says_what_the_pilot_and_the_gate_chose():
    config = KingdraConfig.from_preset("imsat-ae-umap", n_clusters=10)
    assert train_view.decisions_caption(config) == ""
    pilot = {"mu": 4.0, "candidates": [4.0, 1.0], "agreement": [0.7, 0.8], "equal_sizes": [1, 0.9]}
    kept = {"sizes": 0.999, "gate": 0.98, "kept": True, "seconds": 1.0}
    text = train_view.decisions_caption(
        config.replace(extra={"mu_pilot": pilot, "embed_gate": kept})
    )
    assert text.startswith("The mu pilot took mu = 4 (mu = 4: agreement 0.700, sizes 1.000;")
    assert "trained on the representation (a Gaussian mixture on it found clusters 0.999" in text
    refused = dict(kept, sizes=0.934, kept=False)
    fallback = config.replace(embed="none", overcluster=2, n_iter=3, extra={"embed_gate": refused})
    text = train_view.decisions_caption(fallback)
    assert "trained on the input, not the representation" in text
    assert "0.934 of equal, below the gate 0.98), with 2 output(s) per cluster and 3" in text
    by_pilot = dict(kept, pilot="equal", sizes=None)
    text = train_view.decisions_caption(config.replace(extra={"embed_gate": by_pilot}))
    assert "representation (the mu pilot's clusters say the classes are equal in size)" in text
    by_pilot = dict(refused, pilot="unequal", sizes=None)
    fallback = fallback.replace(extra={"embed_gate": by_pilot})
    text = train_view.decisions_caption(fallback)
    assert "not the representation (the mu pilot's clusters say the classes are unequal" in text
