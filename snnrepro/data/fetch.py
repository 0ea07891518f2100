"""Offline-first file fetching: per-file md5 and ordered mirrors, atomic writes, exact "place these" errors.

A :class:`RemoteFile` names one file a dataset needs, its md5 (and size when known) and the
mirrors it may come from, tried in order.  :func:`ensure_files` uses files already on disk
without touching the network, downloads only when allowed, verifies every download and never
leaves a partial file behind (temporary name + atomic rename).  When a file cannot be had it
raises :class:`~snnrepro.data.base.DatasetMissing` naming the file, its md5 and the folder.

``$SNNREPRO_MIRROR`` (optional) is a base URL or folder tried before the built-in mirrors as
``<base>/<dataset>/<file name>``: an institution's or a user's own copy.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import shutil
import stat
import tarfile
import tempfile
import urllib.request
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from snnrepro.data.base import DatasetMissing

CHUNK = 1 << 20
TIMEOUT_S = 60.0


@dataclass(frozen=True)
class RemoteFile:
    """One file a dataset needs: name in its folder, md5 (None = unknown), size in bytes (None = unknown)."""

    name: str
    md5: str | None
    mirrors: tuple[str, ...] = field(default_factory=tuple)
    size: int | None = None

    def describe(self) -> str:
        facts = [f"md5 {self.md5}" if self.md5 else "md5 not published"]
        if self.size is not None:
            facts.append(f"{self.size:,} bytes")
        return f"{self.name} ({', '.join(facts)})"


def md5sum(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def verify(path: Path, rf: RemoteFile) -> str | None:
    """None when ``path`` matches ``rf`` (size, then md5), else the reason it does not."""
    if not path.is_file():
        return "absent"
    size = path.stat().st_size
    if rf.size is not None and size != rf.size:
        return f"size {size} != expected {rf.size}"
    if size == 0:
        return "empty file"
    if rf.md5 is not None:
        got = md5sum(path)
        if got != rf.md5:
            return f"md5 {got} != expected {rf.md5}"
    return None


def mirrors_for(dataset: str, rf: RemoteFile) -> list[str]:
    base = os.environ.get("SNNREPRO_MIRROR", "").strip()
    extra = []
    if base:
        if "://" not in base:
            base = Path(base).resolve().as_uri()
        extra.append(f"{base.rstrip('/')}/{dataset}/{rf.name}")
    return extra + list(rf.mirrors)


def _download(url: str, dest: Path, timeout: float) -> None:
    req = urllib.request.Request(url, headers={"User-Agent": "snnrepro (python urllib)"})
    with urllib.request.urlopen(req, timeout=timeout) as r, open(dest, "wb") as out:  # noqa: S310 (http/file only)
        shutil.copyfileobj(r, out, CHUNK)


def fetch(dataset: str, rf: RemoteFile, folder: Path, timeout: float = TIMEOUT_S) -> list[str]:
    """Try each mirror in order into a temp file, verify, rename atomically. Returns the failures (empty = ok)."""
    folder.mkdir(parents=True, exist_ok=True)
    failures: list[str] = []
    for url in mirrors_for(dataset, rf):
        if not url.startswith(("http://", "https://", "file://")):
            failures.append(f"{url}: unsupported scheme")
            continue
        fd, tmp_name = tempfile.mkstemp(prefix=f".{rf.name}.", suffix=".part", dir=folder)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            _download(url, tmp, timeout)
            bad = verify(tmp, rf)
            if bad is None:
                os.replace(tmp, folder / rf.name)
                return []
            failures.append(f"{url}: {bad}")
        except (OSError, ValueError) as e:  # URLError, HTTPError, timeouts are OSErrors
            failures.append(f"{url}: {e}")
        finally:
            tmp.unlink(missing_ok=True)
    return failures


def ensure_files(
    dataset: str, folder: Path, files: Sequence[RemoteFile], download: bool, hint: str = "", check_md5: bool = True
) -> None:
    """Every file of ``files`` present and valid in ``folder``; downloads only when ``download``.

    Files already placed are accepted without network access (md5-checked when ``check_md5``).
    Raises :class:`DatasetMissing` listing each file still missing with its md5 and the folder.
    """
    missing: list[RemoteFile] = []
    notes: list[str] = []
    for rf in files:
        path = folder / rf.name
        if path.is_file():
            bad = verify(path, rf) if check_md5 else None
            if bad is None:
                continue
            notes.append(f"{path}: present but {bad} (replace it)")
        if download:
            failures = fetch(dataset, rf, folder)
            if not failures:
                continue
            notes += [f"download failed: {f}" for f in failures]
        missing.append(rf)
    if missing:
        text = "\n".join(x for x in (*notes, hint) if x)
        raise DatasetMissing(dataset, folder, [rf.describe() for rf in missing], text)


class UnsafeArchive(ValueError):
    """An archive member would land outside its folder, or is a link, device or bomb; nothing was extracted."""


def _escapes(name: str) -> bool:
    """True for an absolute name, a Windows drive, or one whose ``..`` parts climb out of the archive's root."""
    if not name or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return True
    depth = 0
    for part in name.replace("\\", "/").split("/"):
        if part == "..":
            depth -= 1
            if depth < 0:
                return True
        elif part not in ("", "."):
            depth += 1
    return False


def _check_tar_member(m: tarfile.TarInfo) -> str | None:
    """Why ``m`` may not be extracted (None: it may)."""
    if _escapes(m.name) or ".." in m.name.replace("\\", "/").split("/"):
        return "its path leaves the destination folder (absolute or '..')"
    if m.ischr() or m.isblk() or m.isfifo() or m.isdev():
        return "it is a device or FIFO"
    if m.issym():
        target = posixpath.join(posixpath.dirname(m.name), m.linkname)
        if m.linkname.startswith("/") or _escapes(target):
            return f"it is a symbolic link to {m.linkname!r}, outside the destination folder"
    if m.islnk() and _escapes(m.linkname):
        return f"it is a hard link to {m.linkname!r}, outside the destination folder"
    if not (m.isfile() or m.isdir() or m.issym() or m.islnk()):
        return "it is not a file, folder or link"
    return None


def _check_size(archive: Path, dest: Path, total: int) -> None:
    free = shutil.disk_usage(dest).free
    if total > free:
        raise UnsafeArchive(
            f"{archive}: unpacks to {total:,} bytes but {dest} has only {free:,} bytes free; nothing extracted"
        )


def safe_extract(archive: Path, dest: Path) -> None:
    """Unpack a zip or tar (any compression) into ``dest`` after checking every member.

    Refused (:class:`UnsafeArchive`, nothing extracted): absolute paths, ``..``, links that point
    outside ``dest``, devices and FIFOs, zip symlinks, archives larger than the free space.  Tar
    members are then extracted through the tarfile ``data`` filter (which also clears setuid, setgid
    and sticky bits and group/other write); zip members never carry permission bits.
    """
    archive, dest = Path(archive), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
            for info in infos:
                mode = info.external_attr >> 16
                if _escapes(info.filename) or ".." in info.filename.replace("\\", "/").split("/"):
                    raise UnsafeArchive(f"{archive}: member {info.filename!r} refused: its path leaves the "
                                        "destination folder (absolute or '..'); nothing extracted")
                if stat.S_ISLNK(mode):
                    raise UnsafeArchive(f"{archive}: member {info.filename!r} refused: it is a symbolic link; "
                                        "nothing extracted")
            _check_size(archive, dest, sum(i.file_size for i in infos))
            zf.extractall(dest)
        return
    try:
        tf = tarfile.open(archive)
    except (tarfile.TarError, OSError) as exc:
        raise UnsafeArchive(f"{archive}: not a zip or tar archive ({exc}); nothing extracted") from None
    with tf:
        members = tf.getmembers()
        for m in members:
            why = _check_tar_member(m)
            if why:
                raise UnsafeArchive(f"{archive}: member {m.name!r} refused: {why}; nothing extracted")
        _check_size(archive, dest, sum(m.size for m in members if m.isfile()))
        if hasattr(tarfile, "data_filter"):
            tf.extractall(dest, filter="data")
        else:  # Python without extraction filters: the checks above plus no special mode bits
            for m in members:
                m.mode &= 0o755
            tf.extractall(dest)


def extract_once(archive: Path, dest: Path) -> None:
    """Unpack ``archive`` into ``dest`` (safely: :func:`safe_extract`) unless a completed extraction is recorded.

    The marker ``.extracted-<archive name>`` is written last, so an interrupted extraction is redone.
    """
    marker = dest / f".extracted-{archive.name}"
    if marker.is_file():
        return
    dest.mkdir(parents=True, exist_ok=True)
    safe_extract(archive, dest)
    marker.write_text(f"{archive.name}\n")
