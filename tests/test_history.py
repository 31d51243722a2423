"""The run-history record: its JSON form is what the engine, checkpoint and CLI keep."""

import math

import pytest

from kingdra.history import Record, load


def test_json_form_leaves_unknown_fields_out_and_reads_back():
    record = Record(iteration=1, phase="iteration", epochs=2, coverage=0.25, member_acc=[0.5])
    data = record.to_json()
    assert data == {"iteration": 1, "phase": "iteration", "epochs": 2, "coverage": 0.25,
                    "member_acc": [0.5]}  # fmt: skip
    assert Record.from_json(data) == record


def test_reading_fills_phase_ignores_unknown_keys_and_keeps_nan():
    (base, it) = load([{"iteration": 0, "future_key": 1}, {"iteration": 3, "acc": math.nan}])
    assert base == {"iteration": 0, "phase": "base"}
    assert it["phase"] == "iteration" and math.isnan(it["acc"])


def test_the_old_key_k_reads_as_mini_clusters_wanted():
    # Checkpoints and metrics.json written before the rename keep Algorithm 1's k as "k".
    old = {"iteration": 1, "t_pos": 3, "t_neg": 2, "k": 20, "min_confidence": 0.0}
    record = Record.from_json(old)
    assert record.mini_clusters_wanted == 20
    assert load([old]) == [{"iteration": 1, "phase": "iteration", "t_pos": 3, "t_neg": 2,
                            "mini_clusters_wanted": 20, "min_confidence": 0.0}]  # fmt: skip
    assert "k" not in record.to_json()
    assert Record.from_json({**old, "mini_clusters_wanted": 12}).mini_clusters_wanted == 12
    with pytest.raises(ValueError, match="'mini_clusters_wanted' must be an int"):
        load([{"iteration": 1, "k": 2.5}])


@pytest.mark.parametrize(
    "bad, message",
    [
        ("not a list", "a list of records"),
        ([[1, 2]], "record 0 is damaged: a history record is a dict"),
        ([{"iteration": True}], "'iteration' must be an int"),
        ([{"iteration": 1, "member_acc": 0.5}], "'member_acc' must be a list"),
        ([{"iteration": 1, "losses": {"im": "low"}}], "'losses.im' must be a float"),
        ([{"iteration": 1, "kept_previous": 1}], "'kept_previous' must be a bool"),
    ],
)
def test_damaged_history_raises_saying_what(bad, message):
    with pytest.raises(ValueError, match=message):
        load(bad)
