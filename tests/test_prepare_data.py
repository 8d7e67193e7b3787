"""scripts/prepare_data.py: where each photo's source and licence come from (SOURCES.tsv is built from these)."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from srgan.data.manifest import data_manifest
from srgan.errors import SrganError
from tests.conftest import load_script

DESKTOP = """[Desktop Entry]
Name=Bridge
Name[de]=Brücke
Comment=in Cincinnati
Icon=cincinnati-bridge.jpg
X-KDE-PluginInfo-Author=Derek Jensen
X-KDE-PluginInfo-License=Public Domain
X-KDE-PluginInfo-License[fr]=Domaine public
X-KDE-PluginInfo-Website=http://commons.wikimedia.org/wiki/Image:Bridge.jpg

[X-Palapeli-Puzzle]
Image=cincinnati-bridge.jpg
020_PieceCount=80
"""


def _tree(root: Path) -> Path:
    extracted = root / "extracted"
    for folder in ("usr/share/wallpapers", "usr/share/backgrounds/mate/nature", "usr/share/palapeli/collection"):
        (extracted / folder).mkdir(parents=True)
    collection = extracted / "usr/share/palapeli/collection"
    (collection / "cincinnati-bridge.desktop").write_text(DESKTOP, encoding="utf-8")
    (collection / "cincinnati-bridge.jpg").write_bytes(b"")
    return extracted


def test_palapeli_photo_carries_author_licence_and_origin_from_its_desktop_file(tmp_path: Path) -> None:
    prepare = load_script("prepare_data")
    found = {name: (path, source, licence) for name, path, source, licence in
             prepare.collect(_tree(tmp_path), tmp_path / "skimage")}
    path, source, licence = found["cincinnati-bridge.jpg"]
    assert path == tmp_path / "extracted/usr/share/palapeli/collection/cincinnati-bridge.jpg"
    assert source == ("palapeli-data:/usr/share/palapeli/collection/cincinnati-bridge.jpg "
                      "http://commons.wikimedia.org/wiki/Image:Bridge.jpg")
    # The untranslated licence, not the French one that follows it in the file.
    assert licence == "Public Domain (Derek Jensen; its .desktop file); GPL-2+ package"
    assert "cincinnati-bridge.jpg" in prepare.DENSE and "cincinnati-bridge.jpg" not in prepare.VAL


def _traindata(root: Path) -> Path:
    """A tiny traindata folder: three photos in two subfolders, their SOURCES.tsv, a README that is no image."""
    folder = root / "traindata"
    for rel, level in (("bsds/1.png", 10), ("bsds/2.png", 20), ("wall/a.jpg", 30)):
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((8, 8, 3), level, dtype=np.uint8)).save(folder / rel)
    (folder / "README.md").write_text("photos\n")
    (folder / "SOURCES.tsv").write_text("file\torigin\tlicence\n"
                                        "bsds/1.png\tberkeley\tresearch\n"
                                        "bsds/2.png\tberkeley\tresearch\n"
                                        "wall/a.jpg\tdebian\tCC0\n"
                                        "gone/x.png\tnowhere\tCC0\n", encoding="utf-8")
    return folder


def test_traindata_manifest_counts_and_hashes_every_image(tmp_path: Path) -> None:
    folder = _traindata(tmp_path)
    lines = "".join(f"{rel}\t{hashlib.sha256((folder / rel).read_bytes()).hexdigest()}\n"
                    for rel in ("bsds/1.png", "bsds/2.png", "wall/a.jpg"))
    manifest = data_manifest(folder)
    assert manifest.files == 3 and manifest.sha256 == hashlib.sha256(lines.encode()).hexdigest()
    assert manifest.licences == (("research", 2), ("CC0", 1))
    (folder / "bsds/2.png").write_bytes((folder / "bsds/2.png").read_bytes() + b"\0")  # one byte more
    assert data_manifest(folder).sha256 != manifest.sha256
    Image.fromarray(np.zeros((8, 8, 3), dtype=np.uint8)).save(folder / "wall" / "new.png")
    with pytest.raises(SrganError, match=r"1 images have no row in SOURCES.tsv \(first: wall/new.png\)"):
        data_manifest(folder)


def test_prepare_data_records_traindata(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prepare = load_script("prepare_data")
    folder, out = _traindata(tmp_path), tmp_path / "out"
    record = prepare.record_traindata(folder, out)
    assert json.loads((out / "traindata.json").read_text()) == record
    assert record == {"folder": str(folder.resolve()), "files": 3, "sha256": data_manifest(folder).sha256,
                      "licences": {"research": 2, "CC0": 1}}
    assert (out / "traindata.tsv").read_text().splitlines() == [
        "file\torigin\tlicence", "bsds/1.png\tberkeley\tresearch", "bsds/2.png\tberkeley\tresearch",
        "wall/a.jpg\tdebian\tCC0"]  # the row of a file not there is dropped
    assert prepare.run(["--traindata", str(folder), str(out)]) == 0
    assert capsys.readouterr().out == f"3 photos in {folder.resolve()}, sha256 {record['sha256']}: " \
                                      f"{out / 'traindata.json'}\n"
    (folder / "SOURCES.tsv").unlink()
    assert prepare.run(["--traindata", str(folder), str(out)]) == 1
    out_text, err = capsys.readouterr()
    assert out_text == "" and err == f"prepare_data.py: error: {folder}: no SOURCES.tsv beside the photos: their " \
                                     "licences would be lost\n"
