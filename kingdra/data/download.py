"""Cache folder, checksums and verified downloads (urllib; no extra dependency).

A download goes to a temporary file next to its destination, is verified, then renamed
into place atomically, so the cache never holds a partial or unverified file.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

from .dataset import DataError, MissingDataError

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[int, "int | None"], None]  # (bytes_done, bytes_total or None)

_CHUNK = 1 << 20


def data_home(data_dir: str | os.PathLike | None = None) -> Path:
    """The cache folder: `data_dir`, else ``$KINGDRA_DATA``, else a per-user cache folder.

    The per-user folder is ``$XDG_CACHE_HOME/kingdra`` (default ``~/.cache/kingdra``) on
    Linux, ``~/Library/Caches/kingdra`` on macOS and ``%LOCALAPPDATA%\\kingdra\\Cache`` on
    Windows. The folder is not created here.
    """
    if data_dir is not None:
        return Path(data_dir).expanduser()
    env = os.environ.get("KINGDRA_DATA")
    if env:
        return Path(env).expanduser()
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "kingdra" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "kingdra"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kingdra"


def digest(data: bytes, algorithm: str = "sha256") -> str:
    """Hex digest of bytes."""
    return hashlib.new(algorithm, data).hexdigest()


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in chunks."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def mirrors(option: str | Sequence[str] | None, env_var: str, defaults: Sequence[str]) -> list[str]:
    """Base URLs to try, in order: the `mirror=` option, else ``$env_var``, else `defaults`.

    A string may hold several URLs separated by spaces or commas.
    """
    value = option if option is not None else os.environ.get(env_var)
    if value is None or value == "":
        return list(defaults)
    if isinstance(value, str):
        value = value.replace(",", " ").split()
    return [u if u.endswith("/") else u + "/" for u in value]


def download(
    urls: Sequence[str],
    dest: Path,
    verify: Callable[[Path], None],
    *,
    help_text: str,
    progress: ProgressCallback | None = None,
    timeout: float = 30.0,
    max_bytes: int = 2 << 30,
) -> Path:
    """Download the first reachable URL to `dest`, verify it, then move it into place.

    Parameters
    ----------
    urls : list of str
        Full URLs of the same file, tried in order until one answers.
    dest : Path
        Final location; its folder is created.
    verify : callable
        ``verify(tmp_path)`` raises `DataError` when the file is wrong.
    help_text : str
        Appended to the error when no URL answers (which files to place where).
    progress : callable, optional
        ``progress(bytes_done, bytes_total_or_None)`` after every chunk.

    Raises
    ------
    MissingDataError
        No URL could be reached (offline, firewall, HTTP error).
    DataError
        The downloaded file failed verification; it has been deleted.
    """
    created = not dest.parent.exists()
    dest.parent.mkdir(parents=True, exist_ok=True)
    failures = []
    for url in urls:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                try:
                    _fetch(url, out, progress, timeout, max_bytes)
                except (urllib.error.URLError, OSError) as e:  # HTTPError is a URLError
                    logger.warning("could not download %s: %s", url, e)
                    failures.append(f"{url}: {e}")
                    continue
            try:
                verify(tmp)
            except DataError as e:
                raise DataError(
                    f"The download of {dest.name} from {url} failed verification and was "
                    f"deleted: {e} Try again later or another mirror (option mirror=), or "
                    f"place a good copy of {dest.name} in {dest.parent}."
                ) from None
            os.replace(tmp, dest)
            logger.info("downloaded and verified %s -> %s", url, dest)
            return dest
        finally:
            tmp.unlink(missing_ok=True)
    if created:
        try:
            dest.parent.rmdir()  # leave no empty folder behind when offline
        except OSError:
            pass
    raise MissingDataError(
        f"Could not download {dest.name} ({'; '.join(failures) or 'no URL to try'}). {help_text}"
    )


def bad_file_advice(
    path: Path, source: str, checksum: str, *, download_missing: bool, algorithm: str = "sha256"
) -> str:
    """What to do about a placed file that failed its check, online or offline.

    Offline (`download_missing` false) deleting the file does not help: the advice is a good
    copy from `source`, or the user's word that this copy is right (`checksum` is the key of
    the loader's ``checksums=`` option).
    """
    fix = (
        f"Delete {path} to download it again, or replace it with a good copy from {source}"
        if download_missing
        else f"Replace {path} with a good copy from {source} (downloads are off: fetch it on "
        "a machine with internet and copy it here)"
    )
    return (
        f"{fix}; if you trust this copy, pass its {algorithm} as "
        f"checksums={{'{checksum}': '<{algorithm}>'}}."
    )


def cached_archive(
    name: str,
    archive: Path,
    urls: Sequence[str],
    expected: str,
    *,
    source: str,
    size: str,
    download_missing: bool,
    algorithm: str = "sha256",
    progress: ProgressCallback | None = None,
    timeout: float = 30.0,
) -> Path:
    """A built-in's one archive: checked when placed, else downloaded (and checked).

    `expected` is the archive's `algorithm` hex digest; `source` says where a good copy
    comes from and `size` how large it is, for the messages. Raises `DataError` for a
    placed file that fails its check (it is kept: the message says what to do) and
    `MissingDataError` when it is absent and cannot be downloaded.
    """

    def verify(path: Path) -> None:
        got = file_digest(path, algorithm)
        if got != expected:
            raise DataError(f"{path.name}: {algorithm} {got}, expected {expected}.")

    if archive.is_file():
        try:
            verify(archive)
        except DataError as e:
            advice = bad_file_advice(
                archive,
                source,
                archive.name,
                download_missing=download_missing,
                algorithm=algorithm,
            )
            raise DataError(f"{e} {advice}") from None
        return archive
    folder = archive.parent
    help_text = (
        f"To load {name} offline, place {archive.name} ({size}) from {source} in {folder}; or "
        f"pass data_dir= / set KINGDRA_DATA to a folder whose {folder.name}/ subfolder holds it."
    )
    if not download_missing:
        raise MissingDataError(f"{name}: {archive.name} is not in {folder}. {help_text}")
    return download(urls, archive, verify, help_text=help_text, progress=progress, timeout=timeout)


def _fetch(url, out, progress, timeout, max_bytes) -> None:
    logger.info("downloading %s", url)
    request = urllib.request.Request(url, headers={"User-Agent": "kingdra"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        if total is not None and total > max_bytes:
            raise OSError(f"server announces {total} bytes, over the limit of {max_bytes}")
        done = 0
        if progress is not None:
            progress(0, total)
        while chunk := response.read(_CHUNK):
            done += len(chunk)
            if done > max_bytes:
                raise OSError(f"more than {max_bytes} bytes; stopped")
            out.write(chunk)
            if progress is not None:
                progress(done, total)
