"""The Dataset container validates what every loader returns."""

import numpy as np
import pytest

from kingdra.data import DataError, Dataset, encode_labels


def test_dataset_normalises_x_and_labels():
    X = np.asfortranarray(np.arange(6, dtype=np.float64).reshape(3, 2))
    ds = Dataset(X=X, y=np.array([0, 1, 1], dtype=np.int32), class_names=[10, 20])
    assert ds.X.dtype == np.float32 and ds.X.flags.c_contiguous
    assert ds.y.dtype == np.int64 and ds.n_classes == 2 and ds.class_names == ["10", "20"]
    assert len(ds) == 3 and Dataset(X=X).n_classes is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(X=np.zeros(4)), "must be 2-D"),
        (dict(X=np.zeros((1, 3))), "at least 2 rows"),
        (dict(X=np.zeros((3, 0))), "no feature columns"),
        (dict(X=np.array([[0.0, np.nan], [1, 2]])), r"NaN.*0-based rows 0.*drop_nonfinite"),
        (dict(X=np.zeros((3, 2)), y=np.array([0, 1])), "2 labels for 3 samples"),
        (dict(X=np.zeros((3, 2)), y=np.array([0.5, 1, 2])), "integer labels"),
        (dict(X=np.zeros((3, 2)), y=np.array([0, -1, 1])), "integer labels"),
        (dict(X=np.zeros((3, 2)), images=np.zeros((3, 4, 4), np.float32)), "images must be uint8"),
        (dict(X=np.zeros((3, 2)), images=np.zeros((2, 4, 4), np.uint8)), "with n = 3"),
        (dict(X=np.zeros((3, 2)), texts=["a"]), "1 texts for 3 samples"),
        (dict(X=np.zeros((3, 2)), y=np.array([0, 1, 2]), class_names=["a", "b"]), "out of range"),
        (dict(X=np.array([["a", "b"], ["c", "d"]])), "must be numeric"),
    ],
)
def test_dataset_rejects_bad_contents(kwargs, message):
    with pytest.raises(DataError, match=message):
        Dataset(**kwargs)


def test_encode_labels():
    y, names = encode_labels(np.array(["b", "a", "b"], dtype=object))
    assert y.tolist() == [1, 0, 1] and names == ["a", "b"]
    y, names = encode_labels(np.array([3.0, 1.0, 3.0]))
    assert y.tolist() == [1, 0, 1] and names == ["1", "3"]  # whole floats read as ints
    with pytest.raises(DataError, match="2 row.*no label.*rows 1, 2"):
        encode_labels(np.array(["a", None, float("nan")], dtype=object))
    assert issubclass(DataError, ValueError)
