"""Zips of images: labels from folders, resizing, colour, and the safety limits."""

import io
import logging
import struct
import zipfile

import numpy as np
import pytest
from PIL import Image

from kingdra.data import DataError, load


def png(size=(6, 4), color=(120, 120, 120), mode="RGB", fmt="PNG") -> bytes:
    """An image of `size` (width, height), one colour, with its top-left pixel black."""
    img = Image.new(mode, size, color)
    img.putpixel((0, 0), (0,) * len(img.getbands()) if len(img.getbands()) > 1 else 0)
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def make_zip(entries: dict, compression=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in entries.items():
            zf.writestr(zipfile.ZipInfo(name), data, compress_type=compression)
    return buf.getvalue()


def test_one_folder_per_class_gives_labels(tmp_path):
    data = make_zip(
        {
            "pets/cat/1.png": png(color=(10, 10, 10)),
            "pets/cat/2.png": png(color=(20, 20, 20)),
            "pets/dog/a.jpg": png(color=(200, 200, 200), fmt="JPEG"),
            "pets/dog/deeper/b.png": png(color=(210, 210, 210)),
            "pets/README.txt": b"ignored",
            "__MACOSX/pets/._1.png": b"resource fork",
            "pets/.DS_Store": b"ignored",
        }
    )
    (tmp_path / "pets.zip").write_bytes(data)
    ds = load(tmp_path / "pets.zip")
    assert ds.class_names == ["cat", "dog"] and ds.y.tolist() == [0, 0, 1, 1]
    assert ds.images.shape == (4, 4, 6) and ds.images.dtype == np.uint8  # grey: R = G = B
    assert ds.X.shape == (4, 24) and ds.X.max() <= 1.0
    assert ds.images[0, 0, 0] == 0 and ds.images[0, 1, 1] == 10
    assert ds.extra["files"][0] == "pets/cat/1.png" and ds.skipped == 0


def test_flat_zip_gives_no_labels_and_rgb_is_kept():
    data = make_zip({"a.png": png(color=(255, 0, 0)), "b.png": png(color=(0, 0, 255))})
    ds = load(data, filename="flat.zip")
    assert ds.y is None and ds.class_names is None
    assert ds.images.shape == (2, 4, 6, 3) and ds.images[0, 2, 2].tolist() == [255, 0, 0]
    grey = load(data, filename="flat.zip", color="grey")
    assert grey.images.shape == (2, 4, 6) and grey.X.shape == (2, 24)
    rgb = load(
        make_zip({"a.png": png(mode="L", color=9), "b.png": png(mode="L", color=5)}),
        filename="g.zip",
        color="rgb",
    )
    assert rgb.images.shape == (2, 4, 6, 3)


def test_mixed_sizes_are_resized_to_the_most_common_or_refused():
    data = make_zip({"a.png": png((6, 4)), "b.png": png((6, 4)), "c.png": png((12, 9))})
    ds = load(data, filename="m.zip")
    assert ds.images.shape == (3, 4, 6) and "resized from 2 size(s)" in ds.description
    assert load(data, filename="m.zip", image_size=(5, 7)).images.shape == (3, 5, 7)
    assert load(data, filename="m.zip", image_size=3).images.shape == (3, 3, 3)
    with pytest.raises(
        DataError, match=r"2 different sizes \(height x width: 4x6 \(2\), 9x12 \(1\)\).*resize=True"
    ):
        load(data, filename="m.zip", resize=False)
    with pytest.raises(DataError, match="image_size"):
        load(data, filename="m.zip", image_size=(0, 5))


def test_large_images_default_to_a_longer_side_of_64():
    data = make_zip({"a.png": png((200, 100)), "b.png": png((200, 100))})
    assert load(data, filename="big.zip").images.shape == (2, 32, 64)
    assert load(data, filename="big.zip", max_side=100).images.shape == (2, 50, 100)


def test_transparent_images_are_flattened_onto_white():
    data = make_zip(
        {
            "a.png": png(mode="RGBA", color=(0, 0, 0, 0)),
            "b.png": png(mode="RGBA", color=(0, 0, 0, 255)),
        }
    )
    ds = load(data, filename="t.zip")
    assert ds.images[0, 2, 2] == 255 and ds.images[1, 2, 2] == 0


def test_corrupt_image_is_skipped_and_counted(caplog):
    data = make_zip(
        {"a.png": png(), "b.png": png(), "broken.png": png()[:40], "fake.jpg": b"not an image"}
    )
    with caplog.at_level(logging.WARNING, logger="kingdra.data.images"):
        ds = load(data, filename="c.zip")
    assert len(ds) == 2 and ds.skipped == 2
    assert "skipped 2 unreadable image(s)" in ds.description
    assert "skipped 2 unreadable" in caplog.text
    assert {s.split(" ")[0] for s in ds.extra["skipped_files"]} == {"broken.png", "fake.jpg"}


def test_zip_with_no_images_or_too_few_readable():
    with pytest.raises(DataError, match=r"holds no images \(2 other file\(s\) ignored\)"):
        load(make_zip({"a.txt": b"x", "b.csv": b"1,2"}), filename="n.zip")
    with pytest.raises(DataError, match="1 readable image.*1 unreadable.*at least 2"):
        load(make_zip({"a.png": png(), "b.png": b"junk"}), filename="n.zip")
    with pytest.raises(DataError, match="not a valid zip file"):
        load(b"PK but not really a zip", filename="bad.zip")


def test_images_partly_in_folders_is_an_error():
    data = make_zip({"a.png": png(), "cat/b.png": png(), "cat/c.png": png()})
    with pytest.raises(DataError, match="1 image.*top level.*folder named after its class"):
        load(data, filename="mixed.zip")


@pytest.mark.parametrize(
    "name", ["../evil.png", "/etc/evil.png", "a/../../evil.png", "..\\evil.png", "C:/evil.png"]
)
def test_path_traversal_is_rejected_and_nothing_is_written(tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    data = make_zip({"ok/a.png": png(), "ok/b.png": png(), name: png()})
    with pytest.raises(DataError, match="unsafe paths.*Nothing was extracted"):
        load(data, filename="trav.zip")
    assert list(tmp_path.iterdir()) == []


def test_too_many_files():
    data = make_zip({f"{i}.png": png() for i in range(5)})
    with pytest.raises(DataError, match="5 entries, over the limit max_files=3"):
        load(data, filename="many.zip", max_files=3)


def test_zip_bomb_by_compression_ratio():
    bomb = png(size=(1500, 1500), mode="L", color=0, fmt="BMP")  # 2.2 MB of zeros
    data = make_zip({"a.bmp": bomb, "b.png": png()})
    assert len(data) < 50_000
    with pytest.raises(
        DataError, match=r"a.bmp expands 2,251,078 bytes from .*\(over max_ratio=200\).*zip bomb"
    ):
        load(data, filename="bomb.zip")


def test_zip_bomb_by_total_declared_size():
    data = make_zip({f"{i}.png": png() for i in range(4)})
    limit = 3 * len(png())
    with pytest.raises(
        DataError, match=f"declare .* bytes uncompressed, over max_total_bytes={limit:,}"
    ):
        load(data, filename="bomb.zip", max_total_bytes=limit)
    assert len(load(data, filename="ok.zip", max_total_bytes=4 * len(png()))) == 4


def test_member_that_lies_about_its_size_is_not_read_past_its_declared_size():
    data = bytearray(make_zip({"a.png": png(), "b.png": png(), "liar.png": png((60, 60))}))
    # Patch the central directory: liar.png now declares 10 uncompressed bytes.
    cd = data.rfind(b"PK\x01\x02")
    assert data[cd + 46 : cd + 46 + 8] == b"liar.png"
    data[cd + 24 : cd + 28] = struct.pack("<I", 10)
    ds = load(bytes(data), filename="liar.zip")
    assert len(ds) == 2 and ds.skipped == 1


def test_image_over_the_pixel_limit_is_skipped():
    data = make_zip({"a.png": png(), "b.png": png(), "huge.png": png((300, 300))})
    ds = load(data, filename="px.zip", max_pixels=10_000)
    assert len(ds) == 2 and "max_pixels" in ds.extra["skipped_files"][0]


def test_damaged_compressed_member_is_skipped():
    rng = np.random.default_rng(0)
    noisy = {}
    for name in ("a.bmp", "b.bmp", "c.bmp"):
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 255, (40, 40), dtype=np.uint8)).save(buf, format="BMP")
        noisy[name] = buf.getvalue()
    data = bytearray(make_zip(noisy))
    start = data.find(b"b.bmp") + 60  # inside b.bmp's deflate stream
    data[start : start + 200] = bytes(x ^ 0x55 for x in data[start : start + 200])
    ds = load(bytes(data), filename="damaged.zip")
    assert len(ds) == 2 and ds.skipped == 1 and ds.extra["skipped_files"][0].startswith("b.bmp")
