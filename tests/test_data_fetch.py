"""Mirror logic: ordered mirrors, md5/size verification, atomic writes, offline behaviour, exact errors."""

from __future__ import annotations

import hashlib
import http.server
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest

from snnrepro.data import fetch
from snnrepro.data.base import DatasetMissing
from snnrepro.data.fetch import RemoteFile, ensure_files, extract_once
from snnrepro.registry import DATASETS

GOOD = b"the real archive bytes " * 100
BAD = b"corrupted bytes, same length " * 80


@pytest.fixture
def server(tmp_path):
    """A local HTTP server on 127.0.0.1 serving tmp_path/www (bounded to this test)."""
    www = tmp_path / "www"
    (www / "bad").mkdir(parents=True)
    (www / "good").mkdir()
    (www / "empty").mkdir()
    (www / "bad" / "data.zip").write_bytes(BAD)
    (www / "good" / "data.zip").write_bytes(GOOD)
    (www / "empty" / "data.zip").write_bytes(b"")
    hits: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **k):
            super().__init__(*a, directory=str(www), **k)

        def log_message(self, *a):  # quiet
            pass

        def do_GET(self):
            hits.append(self.path)
            super().do_GET()

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", hits
    httpd.shutdown()
    httpd.server_close()


def rf(mirrors, size=None) -> RemoteFile:
    return RemoteFile("data.zip", hashlib.md5(GOOD).hexdigest(), tuple(mirrors), size)


def no_partials(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if p.name.endswith(".part")]


def test_corrupt_mirror_then_good_mirror(server, tmp_path):
    base, hits = server
    dest = tmp_path / "ds"
    ensure_files("demo", dest, [rf([f"{base}/bad/data.zip", f"{base}/missing/data.zip", f"{base}/good/data.zip"])],
                 download=True)
    assert (dest / "data.zip").read_bytes() == GOOD
    assert hits == ["/bad/data.zip", "/missing/data.zip", "/good/data.zip"]  # tried in order
    assert no_partials(dest)


def test_size_mismatch_and_empty_body_are_rejected(server, tmp_path):
    base, _ = server
    dest = tmp_path / "ds"
    failures = fetch.fetch("demo", rf([f"{base}/empty/data.zip"]), dest)
    assert failures and "empty file" in failures[0]
    failures = fetch.fetch("demo", rf([f"{base}/good/data.zip"], size=len(GOOD) + 1), dest)
    assert failures and "size" in failures[0]
    assert not (dest / "data.zip").exists() and no_partials(dest)


def test_all_mirrors_fail_names_file_md5_and_folder(server, tmp_path):
    base, _ = server
    dest = tmp_path / "ds"
    with pytest.raises(DatasetMissing) as e:
        ensure_files("demo", dest, [rf([f"{base}/bad/data.zip", f"{base}/empty/data.zip"])], download=True,
                     hint="get it from the authors")
    msg = str(e.value)
    assert "data.zip" in msg and hashlib.md5(GOOD).hexdigest() in msg and str(dest) in msg
    assert "md5" in msg and "get it from the authors" in msg
    assert e.value.files and e.value.folder == dest
    assert not (dest / "data.zip").exists() and no_partials(dest)


def test_file_url_mirror(tmp_path):
    src = tmp_path / "copy.zip"
    src.write_bytes(GOOD)
    ensure_files("demo", tmp_path / "ds", [rf([src.as_uri()])], download=True)
    assert (tmp_path / "ds" / "data.zip").read_bytes() == GOOD


def test_env_mirror_is_tried_first(tmp_path, monkeypatch):
    (tmp_path / "mirror" / "demo").mkdir(parents=True)
    (tmp_path / "mirror" / "demo" / "data.zip").write_bytes(GOOD)
    monkeypatch.setenv("SNNREPRO_MIRROR", str(tmp_path / "mirror"))
    ensure_files("demo", tmp_path / "ds", [rf(["http://127.0.0.1:9/never"])], download=True)
    assert (tmp_path / "ds" / "data.zip").read_bytes() == GOOD


def test_placed_files_need_no_network_and_offline_never_downloads(tmp_path, monkeypatch):
    def boom(*a, **k):
        raise AssertionError("network touched")

    monkeypatch.setattr(fetch, "_download", boom)
    dest = tmp_path / "ds"
    dest.mkdir()
    (dest / "data.zip").write_bytes(GOOD)
    ensure_files("demo", dest, [rf(["http://127.0.0.1:9/x"])], download=True)  # placed + valid: no network
    (dest / "data.zip").write_bytes(BAD)
    with pytest.raises(DatasetMissing, match="present but md5"):
        ensure_files("demo", dest, [rf(["http://127.0.0.1:9/x"])], download=False)  # offline: no attempt


def test_extract_once_redoes_an_interrupted_extraction(tmp_path):
    arc = tmp_path / "a.zip"
    with zipfile.ZipFile(arc, "w") as z:
        z.writestr("inner/x.txt", "1")
    out = tmp_path / "out"
    extract_once(arc, out)
    assert (out / "inner" / "x.txt").read_text() == "1" and (out / ".extracted-a.zip").is_file()
    (out / "inner" / "x.txt").write_text("changed")
    extract_once(arc, out)  # marker present: not unpacked again
    assert (out / "inner" / "x.txt").read_text() == "changed"


def test_nmnist_end_to_end_download_from_local_mirror(server, tmp_path, monkeypatch):
    """The whole path: mirrors -> verified archives -> extraction -> frames."""
    from snnrepro.data.events.event_io import write_nmnist
    from snnrepro.data.events.nmnist import NMnistSource

    monkeypatch.setenv("SNNREPRO_CACHE", str(tmp_path / "cache"))
    base, _ = server
    www = tmp_path / "www" / "good"
    files = []
    for split, name in (("Train", "train.zip"), ("Test", "test.zip")):
        with zipfile.ZipFile(www / name, "w") as z:
            for d in range(10):
                tmp = tmp_path / f"{split}{d}.bin"
                write_nmnist(tmp, [d], [d], [1], [100])
                z.write(tmp, f"{split}/{d}/00000.bin")
        (tmp_path / "www" / "bad" / name).write_bytes(b"not a zip")
        md5 = hashlib.md5((www / name).read_bytes()).hexdigest()
        files.append(RemoteFile(name, md5, (f"{base}/bad/{name}", f"{base}/good/{name}")))
    src = NMnistSource()
    monkeypatch.setattr(src, "archives", tuple(files))
    root = tmp_path / "root"
    with pytest.raises(DatasetMissing):
        src.load(root, download=False)
    b = src.load(root, download=True, T=2)
    assert (len(b.train), len(b.test)) == (10, 10)
    x, y = b.test[3]
    assert y == 3 and x.sum().item() == 1 and x[1, 1, 3, 3].item() == 1  # one ON event at (3, 3), last frame
    assert src.check(root).status == "present"
    assert np.isclose(float(b.train[0][0].sum()), 1.0)
    assert "nmnist" in DATASETS.names()
