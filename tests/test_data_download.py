"""Downloads for real: a local HTTP server on 127.0.0.1 serves small IDX files."""

import gzip
import hashlib
import http.server
import socket
import struct
import threading

import numpy as np
import pytest

from kingdra.data import DataError, MissingDataError, data_home, load

NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")  # fmt: skip


def idx_bytes(array: np.ndarray) -> bytes:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(
        f">{array.ndim}i", *array.shape
    )
    return header + array.astype(np.uint8).tobytes()


@pytest.fixture
def idx_files():
    """Small MNIST-like IDX contents: 6 train and 4 test images of 5x5."""
    rng = np.random.default_rng(0)
    arrays = {
        NAMES[0]: rng.integers(0, 256, (6, 5, 5)),
        NAMES[1]: np.array([0, 1, 2, 3, 4, 9]),
        NAMES[2]: rng.integers(0, 256, (4, 5, 5)),
        NAMES[3]: np.array([5, 6, 7, 8]),
    }
    contents = {name: idx_bytes(a) for name, a in arrays.items()}
    checksums = {name: hashlib.sha256(c).hexdigest() for name, c in contents.items()}
    return arrays, contents, checksums


class Server:
    """Serves `files` (URL path -> bytes) and counts requests per path."""

    def __init__(self, files):
        self.files, self.requests = files, []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.requests.append(self.path)
                body = outer.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/mnist/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(idx_files):
    _, contents, _ = idx_files
    s = Server({f"/mnist/{name}.gz": gzip.compress(c) for name, c in contents.items()})
    yield s
    s.close()


def test_download_verifies_caches_and_reuses_the_cache(tmp_path, idx_files, server):
    arrays, _, checksums = idx_files
    progress = []
    ds = load(
        "mnist",
        data_dir=tmp_path,
        mirror=server.url,
        checksums=checksums,
        progress=lambda done, total: progress.append((done, total)),
    )
    assert sorted(server.requests) == sorted(f"/mnist/{n}.gz" for n in NAMES)
    assert sorted(p.name for p in (tmp_path / "mnist").iterdir()) == sorted(
        n + ".gz" for n in NAMES
    )
    assert ds.X.shape == (10, 25) and ds.X.dtype == np.float32
    np.testing.assert_array_equal(ds.y, [0, 1, 2, 3, 4, 9, 5, 6, 7, 8])  # train then test
    np.testing.assert_array_equal(ds.images[:6], arrays[NAMES[0]])
    np.testing.assert_allclose(ds.X[6:], arrays[NAMES[2]].reshape(4, -1) / 255, atol=1e-7)
    assert progress and progress[-1][0] == progress[-1][1]  # ends with bytes_done == total

    load("mnist", data_dir=tmp_path, mirror=server.url, checksums=checksums)
    assert len(server.requests) == 4  # the second load made no request


def test_corrupted_download_is_rejected_and_deleted(tmp_path, idx_files, server):
    _, contents, checksums = idx_files
    bad = bytearray(contents[NAMES[0]])
    bad[-1] ^= 0xFF  # one flipped pixel: same size, wrong checksum
    server.files[f"/mnist/{NAMES[0]}.gz"] = gzip.compress(bytes(bad))
    with pytest.raises(DataError, match=f"{NAMES[0]}.gz.*failed verification and was deleted"):
        load("mnist", data_dir=tmp_path, mirror=server.url, checksums=checksums)
    folder = tmp_path / "mnist"
    assert not (folder / f"{NAMES[0]}.gz").exists()
    assert not [p for p in folder.iterdir() if p.name.endswith(".part")]  # no temp file left


def test_truncated_gzip_download_is_rejected(tmp_path, idx_files, server):
    _, contents, checksums = idx_files
    server.files[f"/mnist/{NAMES[1]}.gz"] = gzip.compress(contents[NAMES[1]])[:-12]
    with pytest.raises(DataError, match="failed verification"):
        load("mnist", data_dir=tmp_path, mirror=server.url, checksums=checksums)
    assert not (tmp_path / "mnist" / f"{NAMES[1]}.gz").exists()


def test_second_mirror_is_tried_when_the_first_fails(tmp_path, idx_files, server):
    _, _, checksums = idx_files
    missing = server.url.replace("/mnist/", "/nothing-here/")
    ds = load("mnist", data_dir=tmp_path, mirror=[missing, server.url], checksums=checksums)
    assert len(ds) == 10
    assert sum(r.startswith("/nothing-here/") for r in server.requests) == 4  # four 404s


def test_mirror_from_environment(tmp_path, idx_files, server, monkeypatch):
    _, _, checksums = idx_files
    monkeypatch.setenv("KINGDRA_MNIST_MIRROR", server.url)
    assert len(load("mnist", data_dir=tmp_path, checksums=checksums)) == 10
    assert len(server.requests) == 4


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def test_offline_error_names_the_files_and_the_folder(tmp_path):
    with pytest.raises(MissingDataError) as err:
        load("mnist", data_dir=tmp_path, mirror=_closed_port_url(), timeout=5)
    message = str(err.value)
    assert str(tmp_path / "mnist") in message
    for name in NAMES:
        assert f"{name}.gz" in message
    assert isinstance(err.value, ValueError)
    assert not (tmp_path / "mnist").exists()  # nothing left behind, not even the folder


def test_download_false_never_touches_the_network(tmp_path):
    with pytest.raises(MissingDataError, match="fashion-mnist"):
        load("fashion-mnist", data_dir=tmp_path, download=False, mirror=_closed_port_url())


def test_placed_uncompressed_files_are_used_and_checked(tmp_path, idx_files):
    _, contents, checksums = idx_files
    folder = tmp_path / "mnist"
    folder.mkdir()
    for name, c in contents.items():
        (folder / name).write_bytes(c)  # uncompressed, as some users unpack them
    ds = load("mnist", data_dir=tmp_path, download=False, checksums=checksums)
    assert ds.X.shape == (10, 25)
    (folder / NAMES[3]).write_bytes(contents[NAMES[3]][:-1])
    with pytest.raises(DataError, match=f"{NAMES[3]}: sha256.*Replace .* with a good copy"):
        load("mnist", data_dir=tmp_path, download=False, checksums=checksums)
    assert (folder / NAMES[3]).exists()  # a user's file is reported, not deleted


def test_wrong_shape_without_checksum_override_is_rejected(tmp_path, idx_files):
    """Fashion-MNIST has no content checksum: the header and shape are checked."""
    _, contents, _ = idx_files
    folder = tmp_path / "fashion-mnist"
    folder.mkdir()
    for name, c in contents.items():
        (folder / name).write_bytes(c)
    with pytest.raises(DataError, match=r"shape \(6, 5, 5\), expected \(60000, 28, 28\)"):
        load("fashion-mnist", data_dir=tmp_path, download=False)


def test_data_home_resolution(tmp_path, monkeypatch):
    monkeypatch.setenv("KINGDRA_DATA", str(tmp_path / "env"))
    assert data_home(tmp_path / "arg") == tmp_path / "arg"
    assert data_home() == tmp_path / "env"
    monkeypatch.delenv("KINGDRA_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    if data_home().parent == tmp_path / "xdg":  # Linux
        assert data_home() == tmp_path / "xdg" / "kingdra"
