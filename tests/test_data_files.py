"""Users' own arrays and tables, by path and as uploads, and every bad-input case."""

import io

import numpy as np
import pandas as pd
import pytest

from kingdra.data import DataError, load, load_upload


def _npz(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _npy(array) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=True)
    return buf.getvalue()


# ---- .npy / .npz


def test_npy_by_path(tmp_path):
    X = np.random.default_rng(0).normal(size=(20, 4))
    np.save(tmp_path / "x.npy", X)
    ds = load(tmp_path / "x.npy")
    assert ds.X.dtype == np.float32 and ds.X.shape == (20, 4) and ds.y is None
    np.testing.assert_allclose(ds.X, X, rtol=1e-6)
    assert ds.source == str(tmp_path / "x.npy") and ds.name == "x.npy" and ds.n_classes is None


def test_npy_images_are_flattened_and_kept():
    images = np.random.default_rng(0).integers(0, 256, (5, 6, 7), dtype=np.uint8)
    ds = load(_npy(images), filename="imgs.npy")
    assert ds.X.shape == (5, 42) and ds.X.max() <= 255
    np.testing.assert_array_equal(ds.images, images)


def test_npz_keys_and_labels():
    X = np.arange(12, dtype=np.float64).reshape(6, 2)
    ds = load(_npz(X=X, y=np.array(["b", "a", "b", "c", "a", "a"])), filename="d.npz")
    assert ds.y.tolist() == [1, 0, 1, 2, 0, 0] and ds.class_names == ["a", "b", "c"]
    ds = load(_npz(feats=X, cls=np.arange(6) % 2), filename="d.npz", label_key="cls")
    assert ds.X.shape == (6, 2) and ds.n_classes == 2
    ds = load(_npz(X=X, y=np.zeros(6)), filename="d.npz", labels=[5, 5, 6, 6, 7, 7])
    assert ds.class_names == ["5", "6", "7"]  # labels= wins over the default key
    ds = load(_npz(first=X), filename="d.npz")  # no known key: the first array
    assert ds.y is None and ds.X.shape == (6, 2)
    with pytest.raises(DataError, match="no array 'labels'; it holds feats, cls. Set label_key="):
        load(_npz(feats=X, cls=np.arange(6)), filename="d.npz", label_key="labels")


def test_npy_pickled_objects_are_refused():
    objects = np.array([{"a": 1}, {"b": 2}], dtype=object)
    with pytest.raises(DataError, match="Python objects.*never loaded"):
        load(_npy(objects), filename="evil.npy")
    with pytest.raises(DataError, match="Python objects"):
        load(_npz(X=np.zeros((3, 2)), y=objects[:1].repeat(3)), filename="evil.npz")


def test_npy_bad_shapes_and_types():
    with pytest.raises(DataError, match="1-D array of length 5.*reshape"):
        load(_npy(np.arange(5.0)), filename="v.npy")
    with pytest.raises(DataError, match="must be numbers.*<U"):
        load(_npy(np.array([["a", "b"], ["c", "d"]])), filename="s.npy")
    with pytest.raises(DataError, match="not a valid NumPy file"):
        load(b"this is not numpy", filename="junk.npy")


def test_label_length_mismatch():
    X = np.zeros((6, 2))
    with pytest.raises(DataError, match="5 labels for 6 rows"):
        load(_npz(X=X, y=np.arange(5)), filename="d.npz")
    with pytest.raises(DataError, match="4 labels for 3 rows"):
        load(b"a,b\n1,2\n3,4\n5,6\n", filename="t.csv", labels=[0, 1, 0, 1])


def test_single_row():
    with pytest.raises(DataError, match="1 sample.*at least 2 rows"):
        load(_npy(np.ones((1, 3))), filename="one.npy")
    with pytest.raises(DataError, match="at least 2 rows"):
        load(b"a,b\n1,2\n", filename="one.csv")


def test_nan_and_inf_are_reported_and_can_be_dropped():
    X = np.arange(20, dtype=np.float64).reshape(10, 2)
    X[3, 1], X[7, 0] = np.nan, np.inf
    with pytest.raises(
        DataError, match=r"2 value\(s\) in 2 row\(s\) \(0-based rows 3, 7\).*drop_nonfinite=True"
    ):
        load(_npy(X), filename="n.npy")
    ds = load(_npz(X=X, y=np.arange(10)), filename="n.npz", drop_nonfinite=True)
    assert ds.X.shape == (8, 2) and ds.skipped == 2 and "dropped 2 row(s)" in ds.description
    assert "3" not in ds.class_names and "7" not in ds.class_names and ds.n_classes == 8


# ---- .csv / .tsv / .parquet


CSV = b"f1,f2,species\n1.0,2.0,cat\n1.5,2.5,dog\n0.5,1.0,cat\n3.0,,dog\n"


def test_csv_with_label_column(tmp_path):
    ds = load(CSV.replace(b",,", b",4,"), filename="pets.csv", label_column="species")
    assert (
        ds.X.shape == (4, 2) and ds.class_names == ["cat", "dog"] and ds.y.tolist() == [0, 1, 0, 1]
    )
    path = tmp_path / "pets.tsv"
    path.write_bytes(CSV.replace(b",,", b",4,").replace(b",", b"\t"))
    assert load(path, label_column="species").X.shape == (4, 2)


def test_csv_missing_value_is_located_by_column_name():
    with pytest.raises(DataError, match=r"0-based rows 3\) and 1 column\(s\) \(f2\)"):
        load(CSV, filename="pets.csv", label_column="species")
    ds = load(CSV, filename="pets.csv", label_column="species", drop_nonfinite=True)
    assert len(ds) == 3 and ds.y.tolist() == [0, 1, 0]


def test_csv_non_numeric_columns_are_named():
    data = b"f1,colour,size,f2\n1,red,S,2\n2,blue,M,3\n3,red,L,oops\n"
    with pytest.raises(DataError) as err:
        load(data, filename="t.csv")
    message = str(err.value)
    assert "'colour'" in message and "'size'" in message and "'f2' (row 2: 'oops')" in message
    assert "label_column=" in message and "ignore_columns=" in message
    ds = load(data, filename="t.csv", ignore_columns=["colour", "size", "f2"])
    assert ds.X.shape == (3, 1)


def test_csv_ragged_rows():
    data = b"a,b,c\n1,2,3\n4,5\n6,7,8,9\n1,1,1\n"
    with pytest.raises(
        DataError,
        match=r"header has 3 fields but 2 line\(s\) differ \(line 3 has 2; line 4 has 4\)",
    ):
        load(data, filename="r.csv")


def test_csv_ragged_rows_with_quotes_crlf_and_latin1():
    with pytest.raises(DataError, match=r"1 line\(s\) differ \(line 3 has 2\)"):
        load(b'a,b,c\n"1",2,3\n4,5\n6,7,8\n', filename="q.csv")  # quoted: the csv module
    ds = load(b"a,b\r\n1,2\r\n\r\n3,4\r\n", filename="crlf.csv")  # blank line skipped
    assert ds.X.tolist() == [[1, 2], [3, 4]]
    ds = load("x,caf\xe9\n1,2\n3,4\n".encode("latin-1"), filename="l1.csv")
    assert ds.extra["columns"] == ["x", "caf\xe9"]
    with pytest.raises(DataError, match=r"line 2 has 3"):
        load(b"a;b\n1;2;3\n4;5\n", filename="semi.csv", sep=";")


def test_csv_unknown_column_and_empty_cases():
    with pytest.raises(DataError, match="no column 'label'; its columns are 'f1', 'f2', 'species'"):
        load(CSV, filename="pets.csv", label_column="label")
    with pytest.raises(DataError, match="header but no data rows"):
        load(b"a,b\n", filename="h.csv")
    with pytest.raises(DataError, match="no rows"):
        load(b"\n\n", filename="blank.csv")
    with pytest.raises(DataError, match="no label.*rows 1"):
        load(b"a,b,y\n1,2,x\n3,4,\n5,6,z\n", filename="t.csv", label_column="y")


def test_parquet_by_path(tmp_path):
    df = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [4, 5, 6], "y": [10, 20, 10]})
    df.to_parquet(tmp_path / "t.parquet")
    ds = load(tmp_path / "t.parquet", label_column="y")
    assert ds.X.tolist() == [[1, 4], [2, 5], [3, 6]] and ds.class_names == ["10", "20"]
    with pytest.raises(DataError, match="not a readable Parquet file"):
        load(b"PAR1 broken", filename="bad.parquet")


def test_text_column_gives_tfidf_and_keeps_texts():
    df = pd.DataFrame(
        {
            "text": ["the cat sat on the mat", "a dog chased the cat", "stocks fell on the market",
                     "the market rallied", "dogs and cats are pets", None],
            "topic": ["pets", "pets", "money", "money", "pets", "money"],
        }
    )  # fmt: skip
    data = df.to_csv(index=False).encode()
    ds = load(data, filename="docs.csv", text_column="text", label_column="topic", max_features=5)
    assert ds.X.shape == (6, 5) and ds.texts[0] == "the cat sat on the mat" and ds.texts[5] == ""
    assert "the" not in ds.extra["vocabulary"]  # English stop words removed
    assert ds.class_names == ["money", "pets"]
    ds = load(data, filename="docs.csv", text_column="text", stop_words=None, max_features=None)
    assert "the" in ds.extra["vocabulary"]
    with pytest.raises(DataError, match="tf-idf failed.*min_df"):
        load(data, filename="docs.csv", text_column="text", min_df=10)


# ---- file-level checks: extension, empty, size limit, uploads


def test_wrong_extension_empty_file_and_missing_path(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DataError, match=r"unsupported file type \.txt. Supported: \.npy, \.npz"):
        load(tmp_path / "notes.txt")
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(DataError, match="empty.csv is empty"):
        load(tmp_path / "empty.csv")
    with pytest.raises(DataError, match="does not exist"):
        load(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="is not a file"):
        load(tmp_path)


def test_size_limits(tmp_path):
    np.save(tmp_path / "big.npy", np.zeros((100, 100)))
    with pytest.raises(DataError, match="over the limit of 0.0 MiB.*max_bytes="):
        load(tmp_path / "big.npy", max_bytes=1000)
    assert load(tmp_path / "big.npy", max_bytes=10**6).X.shape == (100, 100)
    with pytest.raises(DataError, match="over the upload limit"):
        load_upload((tmp_path / "big.npy").read_bytes(), "big.npy", max_bytes=1000)


def test_uploads_as_bytes_and_file_objects():
    data = CSV.replace(b",,", b",4,")
    assert load_upload(data, "pets.csv", label_column="species").n_classes == 2
    upload = io.BytesIO(data)
    upload.name = "pets.csv"  # like streamlit's UploadedFile
    upload.read()  # already consumed once: load rewinds it
    assert len(load(upload, label_column="species")) == 4
    with pytest.raises(DataError, match="needs a filename"):
        load(io.BytesIO(data))
    with pytest.raises(DataError, match="binary mode"):
        load(io.StringIO(data.decode()), filename="pets.csv")


def test_options_that_do_not_apply_to_the_format():
    with pytest.raises(DataError, match="image_size do not apply to .csv files.*label_column"):
        load(CSV, filename="pets.csv", image_size=8)


# ---- the label column of a table: found by its name, named in the summary, changeable


def _blobs(fmt: str, tmp_path, label: str = "label"):
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.normal(size=(12, 4)), columns=list("abcd"))
    df[label] = ["x", "y", "z"] * 4
    path = tmp_path / f"blobs.{fmt}"
    if fmt == "parquet":
        df.to_parquet(path)
    else:
        df.to_csv(path, index=False, sep="\t" if fmt == "tsv" else ",")
    return path


@pytest.mark.parametrize("fmt", ["csv", "tsv", "parquet"])
def test_table_label_column_found_by_name_and_named_in_the_summary(fmt, tmp_path):
    path = _blobs(fmt, tmp_path)
    ds = load(path)
    assert ds.X.shape == (12, 4) and ds.n_classes == 3  # the labels are not a feature
    assert ds.extra["columns"] == ["a", "b", "c", "d"] and ds.extra["label_column"] == "label"
    assert "'a', 'b', 'c', 'd'" in ds.description
    assert "labels from column 'label' (found by its name" in ds.description
    # The user can say there is no label column, or pick another one.
    with pytest.raises(DataError, match="'label' .* not numeric"):
        load(path, label_column=False)  # a text column as a feature: said so, not hidden
    none = load(path, label_column=False, ignore_columns=["label"])
    assert none.X.shape == (12, 4) and none.y is None and "labels from" not in none.description
    other = load(path, label_column="d", ignore_columns=["label"])
    assert other.extra["columns"] == ["a", "b", "c"] and other.n_classes == 12
    assert "labels from column 'd'" in other.description and "found by" not in other.description


@pytest.mark.parametrize("fmt", ["csv", "tsv", "parquet"])
@pytest.mark.parametrize("name", ["y", "Target", "LABELS"])
def test_table_label_names_like_the_npz_loader_in_any_case(fmt, name, tmp_path):
    ds = load(_blobs(fmt, tmp_path, label=name))
    assert ds.extra["label_column"] == name and ds.X.shape == (12, 4)


def test_table_label_column_false_keeps_a_numeric_label_column_as_a_feature(tmp_path):
    data = b"a,b,target\n1,2,0\n3,4,1\n5,6,0\n"
    assert load(data, filename="t.csv").X.shape == (3, 2)
    ds = load(data, filename="t.csv", label_column=False)
    assert ds.X.shape == (3, 3) and ds.y is None
    with pytest.raises(DataError, match="give a column name, None .* or False"):
        load(data, filename="t.csv", label_column=True)
    # labels= given separately: no column is taken by its name.
    ds = load(data, filename="t.csv", labels=["p", "q", "p"])
    assert ds.X.shape == (3, 3) and ds.class_names == ["p", "q"]


def test_text_column_with_a_field_over_the_csv_modules_limit():
    long_text = "word " * 40_000  # 200,000 characters: over csv's default 131,072
    data = f'text,label\n"{long_text}",a\n"a short post, quoted",b\n'.encode()
    ds = load(data, filename="long.csv", text_column="text", stop_words=None)
    assert len(ds.texts[0]) == len(long_text) and ds.class_names == ["a", "b"]
    assert "text from 'text'" in ds.description


def test_table_columns_reads_the_header_only(tmp_path):
    from kingdra.data import table_columns

    assert table_columns(b"a;b;label\n1;2;x\n", "t.csv", sep=";") == ["a", "b", "label"]
    assert table_columns(_blobs("parquet", tmp_path).read_bytes(), "b.parquet")[-1] == "label"


def test_a_fractional_y_column_stays_a_feature_and_the_summary_says_why():
    data = b"x,y,z\n0.5,1.25,3\n1.5,2.75,4\n2.5,0.5,5\n"
    ds = load(data, filename="points.csv")
    assert ds.X.shape == (3, 3) and ds.y is None
    assert "column 'y' holds fractional numbers, so it is a feature" in ds.description
    assert load(data, filename="points.csv", label_column="y").n_classes == 3
    whole = load(b"x,y\n0.5,1.0\n1.5,2.0\n", filename="p.csv")  # whole numbers: labels
    assert whole.X.shape == (2, 1) and whole.n_classes == 2
