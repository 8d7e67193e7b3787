"""scripts/prepare_data.py: where each photo's source and licence come from (SOURCES.tsv is built from these)."""
from __future__ import annotations

from pathlib import Path

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
