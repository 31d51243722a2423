"""Text data: tf-idf features, and 20 Newsgroups read from its archive (no pickle)."""

from __future__ import annotations

import logging
import tarfile
import zlib
from pathlib import Path

import numpy as np
from sklearn.datasets import fetch_20newsgroups
from sklearn.datasets._twenty_newsgroups import (
    strip_newsgroup_footer,
    strip_newsgroup_header,
    strip_newsgroup_quoting,
)
from sklearn.feature_extraction.text import TfidfVectorizer

from .dataset import DataError, Dataset, MissingDataError, encode_labels
from .download import (
    ProgressCallback,
    bad_file_advice,
    data_home,
    download,
    file_digest,
    mirrors,
)

logger = logging.getLogger(__name__)

# The archive scikit-learn downloads for fetch_20newsgroups (sklearn 1.9, ARCHIVE).
NEWS_ARCHIVE = "20news-bydate.tar.gz"
NEWS_SHA256 = "8f1b2514ca22a5ade8fbb9cfa5727df95fa587f4c87b786e15c759fa66d95610"
NEWS_URLS = ("https://ndownloader.figshare.com/files/5975967",)
NEWS_SKLEARN_CACHE = "20news-bydate_py3.pkz"  # what fetch_20newsgroups writes in data_home
_SPLITS = ("20news-bydate-train", "20news-bydate-test")


def texts_to_tfidf(
    texts: list[str],
    y,
    name: str,
    *,
    max_features: int | None = 2000,
    stop_words: str | None = "english",
    min_df: int | float = 1,
    class_names: list[str] | None = None,
    description: str | None = None,
    source: str | None = None,
) -> Dataset:
    """tf-idf of the `max_features` most frequent words (scikit-learn ``TfidfVectorizer``).

    `y` holds raw label values (encoded here) unless `class_names` is given, in which case it
    is already 0..c-1.
    """
    if max_features is not None and (not isinstance(max_features, int) or max_features < 1):
        raise DataError(f"max_features={max_features!r}: give a positive integer or None.")
    vectorizer = TfidfVectorizer(
        max_features=max_features, stop_words=stop_words, min_df=min_df, dtype=np.float32
    )
    try:
        X = vectorizer.fit_transform(texts)
    except ValueError as e:  # "empty vocabulary", bad min_df / stop_words
        raise DataError(
            f"{name}: tf-idf failed ({e}). Check that the text column holds words, and lower "
            "min_df or set stop_words=None."
        ) from None
    if y is not None and class_names is None:
        y, class_names = encode_labels(np.asarray(y, dtype=object), name)
    n, d = X.shape
    empty = int((X.getnnz(axis=1) == 0).sum())
    if empty:
        logger.warning("%s: %d of %d documents have no word in the vocabulary", name, empty, n)
    labels = f", {len(class_names)} classes" if class_names is not None else ", no labels"
    return Dataset(
        X=X.toarray(),
        y=y,
        texts=list(texts),
        class_names=class_names,
        name=name,
        description=description or f"{name}: {n:,} documents, tf-idf of {d:,} words{labels}",
        source=source or name,
        extra={"vocabulary": vectorizer.get_feature_names_out().tolist()},
    )


REMOVE_PARTS = ("headers", "footers", "quotes")


def load_20news(
    data_dir=None,
    *,
    download_missing: bool = True,
    mirror=None,
    checksums: dict | None = None,
    progress: ProgressCallback | None = None,
    timeout: float = 30.0,
    max_features: int | None = 2000,
    stop_words: str | None = "english",
    min_df: int | float = 1,
    remove=REMOVE_PARTS,
) -> Dataset:
    """20 Newsgroups (train + test, 18,846 posts), by default headers, footers and quotes removed.

    Read from ``<data_home>/20news/20news-bydate.tar.gz`` (sha256 checked, read in memory),
    else from the extracted folders ``20news-bydate-train`` and ``20news-bydate-test`` in
    ``<data_home>/20news/`` or ``<data_home>/``, else from scikit-learn's cache
    ``20news-bydate_py3.pkz`` in ``<data_home>/20news/``, else the archive is downloaded.
    `checksums` ``{"20news-bydate.tar.gz": sha256}`` overrides the built-in checksum (for
    tests and other archives). `remove` names the parts stripped from every post, as
    scikit-learn's ``fetch_20newsgroups(remove=...)``: any of ``"headers"``, ``"footers"``,
    ``"quotes"``; ``()`` keeps the posts whole, as the paper does.
    """
    remove = _check_remove(remove)
    folder = data_home(data_dir) / "20news"
    archive = folder / NEWS_ARCHIVE
    expected = (checksums or {}).get(NEWS_ARCHIVE, NEWS_SHA256)
    tfidf = dict(max_features=max_features, stop_words=stop_words, min_df=min_df)

    def verify(path: Path) -> None:
        got = file_digest(path, "sha256")
        if got != expected:
            raise DataError(f"{path.name}: sha256 {got}, expected {expected}.")

    extracted = next((f for f in (folder, data_home(data_dir)) if (f / _SPLITS[0]).is_dir()), None)
    if not archive.is_file() and extracted is not None:
        texts, y, class_names = read_20news_folders(extracted, remove)
        return _news_dataset(texts, y, class_names, remove, tfidf, str(extracted))
    if not archive.is_file() and (folder / NEWS_SKLEARN_CACHE).is_file():
        return _from_sklearn_cache(folder, tfidf, remove)
    if not archive.is_file():
        urls = [u + NEWS_ARCHIVE for u in mirrors(mirror, "KINGDRA_20NEWS_MIRROR", ())]
        urls = urls or list(NEWS_URLS)
        help_text = (
            f"To load 20news offline, place {NEWS_ARCHIVE} (14 MB, from {NEWS_URLS[0]} or "
            f"http://qwone.com/~jason/20Newsgroups/{NEWS_ARCHIVE}) in {folder}; or its "
            f"extracted folders {' and '.join(_SPLITS)} there; or place "
            f"scikit-learn's cache file {NEWS_SKLEARN_CACHE} there (made on a machine with "
            f"internet by sklearn.datasets.fetch_20newsgroups(data_home='<folder>')); or pass "
            "data_dir= / set KINGDRA_DATA to a folder whose 20news/ subfolder holds it."
        )
        if not download_missing:
            raise MissingDataError(f"20news: {NEWS_ARCHIVE} is not in {folder}. {help_text}")
        download(urls, archive, verify, help_text=help_text, progress=progress, timeout=timeout)
    else:
        try:
            verify(archive)
        except DataError as e:
            source = f"{NEWS_URLS[0]} or http://qwone.com/~jason/20Newsgroups/{NEWS_ARCHIVE}"
            folders = f"the extracted {' and '.join(_SPLITS)} folders in {folder} are read"
            raise DataError(
                f"{e} "
                + bad_file_advice(archive, source, NEWS_ARCHIVE, download_missing=download_missing)
                + f" Or move the archive away: {folders} when it is absent."
            ) from None
    texts, y, class_names = read_20news_archive(archive, remove)
    return _news_dataset(texts, y, class_names, remove, tfidf, str(archive))


def _check_remove(remove) -> tuple[str, ...]:
    if isinstance(remove, str):
        remove = tuple(p for p in remove.replace(",", " ").split() if p)
    remove = tuple(remove or ())
    bad = [p for p in remove if p not in REMOVE_PARTS]
    if bad:
        raise DataError(
            f"remove={bad!r}: the parts of a post that can be removed are "
            f"{', '.join(REMOVE_PARTS)}; give any of them, or () to keep posts whole."
        )
    return remove


def _strip(text: str, remove: tuple[str, ...]) -> str:
    if "headers" in remove:
        text = strip_newsgroup_header(text)
    if "footers" in remove:
        text = strip_newsgroup_footer(text)
    if "quotes" in remove:
        text = strip_newsgroup_quoting(text)
    return text


def _removed_note(remove: tuple[str, ...]) -> str:
    return f"{', '.join(remove)} removed" if remove else "posts whole"


def _news_dataset(texts, y, class_names, remove, tfidf: dict, source: str) -> Dataset:
    return texts_to_tfidf(
        texts,
        y,
        "20news",
        class_names=class_names,
        description=(
            f"20news: {len(texts):,} posts (train + test; {_removed_note(remove)}), "
            f"tf-idf of the {tfidf['max_features']} most frequent words, {len(class_names)} "
            "classes"
        ),
        source=source,
        **tfidf,
    )


def _news_posts(posts: list, source: str, remove) -> tuple[list[str], np.ndarray, list[str]]:
    """(split, group, file name, text) tuples -> texts, labels, newsgroup names."""
    if not posts:
        raise DataError(f"{source} holds no posts under {' / '.join(_SPLITS)}; replace it.")
    posts.sort(key=lambda p: p[:3])
    class_names = sorted({p[1] for p in posts})
    index = {g: i for i, g in enumerate(class_names)}
    texts = [_strip(p[3], remove) for p in posts]
    y = np.array([index[p[1]] for p in posts], dtype=np.int64)
    return texts, y, class_names


def read_20news_archive(path: Path, remove=REMOVE_PARTS) -> tuple[list[str], np.ndarray, list[str]]:
    """Posts, labels and newsgroup names from the by-date archive, read in memory.

    Order: train then test; newsgroups and files sorted by name (as ``load_files``).
    """
    posts = []  # (split, group, file name, text)
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:
                parts = member.name.split("/")
                if not member.isfile() or len(parts) != 3 or parts[0] not in _SPLITS:
                    continue
                if member.size > 10 << 20:
                    raise DataError(f"{path.name}: {member.name} is implausibly large.")
                raw = tar.extractfile(member).read()
                posts.append((_SPLITS.index(parts[0]), parts[1], parts[2], raw.decode("latin-1")))
    except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
        raise DataError(f"{path} is not a readable .tar.gz ({e}); delete or replace it.") from None
    return _news_posts(posts, str(path), _check_remove(remove))


def read_20news_folders(
    folder: Path, remove=REMOVE_PARTS
) -> tuple[list[str], np.ndarray, list[str]]:
    """The same from the extracted ``20news-bydate-train`` / ``-test`` folders in `folder`.

    A missing test folder is allowed (the train split alone is then read).
    """
    posts = []
    for split_index, split in enumerate(_SPLITS):
        root = Path(folder) / split
        if not root.is_dir():
            continue
        for group in sorted(p for p in root.iterdir() if p.is_dir()):
            for post in sorted(p for p in group.iterdir() if p.is_file()):
                if post.stat().st_size > 10 << 20:
                    raise DataError(f"{post} is implausibly large for a post.")
                posts.append(
                    (split_index, group.name, post.name, post.read_bytes().decode("latin-1"))
                )
    logger.info("read %d posts from the extracted folders in %s", len(posts), folder)
    return _news_posts(posts, str(folder), _check_remove(remove))


def _from_sklearn_cache(folder: Path, tfidf: dict, remove: tuple[str, ...]) -> Dataset:
    logger.info("reading scikit-learn's 20news cache in %s", folder)
    try:
        bunch = fetch_20newsgroups(
            data_home=str(folder), subset="all", remove=remove, download_if_missing=False
        )
    except OSError as e:
        raise DataError(
            f"scikit-learn could not read {folder / NEWS_SKLEARN_CACHE} ({e})."
        ) from None
    return texts_to_tfidf(
        list(bunch.data),
        np.asarray(bunch.target, dtype=np.int64),
        "20news",
        class_names=list(bunch.target_names),
        description=(
            f"20news: {len(bunch.data):,} posts (scikit-learn cache; {_removed_note(remove)}), "
            f"tf-idf of the {tfidf['max_features']} most frequent words, 20 classes"
        ),
        source=str(folder / NEWS_SKLEARN_CACHE),
        **tfidf,
    )
