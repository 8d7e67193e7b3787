"""What a model was trained on, in a few numbers: a folder's image count and one hash over its files' bytes.

A run config or a model card records the manifest instead of the images (which the project never commits: their
licences allow research use, not redistribution). Anyone holding the same folder can recompute it and know they
train on the same bytes; a changed, added or removed file changes the hash.
"""

from __future__ import annotations

import csv
import hashlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from srgan.errors import SrganError
from srgan.images import scan_folder

SOURCES = "SOURCES.tsv"  # beside the images: file (relative path), ..., licence, one row per file


@dataclass(frozen=True)
class Manifest:
    """``files``: image files under the folder, as the trainer finds them (``scan_folder``: recursive, sorted);
    ``sha256``: hex SHA-256 of the lines "<relative path>\\t<hex SHA-256 of its bytes>\\n" in path order;
    ``licences``: (licence, file count) from the folder's SOURCES.tsv, most common first (empty without one)."""

    files: int
    sha256: str
    licences: tuple[tuple[str, int], ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {"files": self.files, "sha256": self.sha256, "licences": dict(self.licences)}


def data_manifest(folder: str | Path) -> Manifest:
    """The manifest of the training images under ``folder``. With a SOURCES.tsv there (columns ``file`` and
    ``licence``), every image must have a row: an image of unknown licence is refused, naming it."""
    folder = Path(folder)
    files, unusable = scan_folder(folder)
    if unusable:
        path, reason = unusable[0]
        raise SrganError(reason, path)
    digest = hashlib.sha256()
    for path in files:
        digest.update(f"{path.relative_to(folder).as_posix()}\t{_file_sha256(path)}\n".encode())
    licences: tuple[tuple[str, int], ...] = ()
    if (folder / SOURCES).is_file():
        licence_of = _licences(folder / SOURCES)
        names = [p.relative_to(folder).as_posix() for p in files]
        missing = [n for n in names if n not in licence_of]
        if missing:
            raise SrganError(f"{len(missing)} images have no row in {SOURCES} (first: {missing[0]})", folder)
        licences = tuple(Counter(licence_of[n] for n in names).most_common())
    return Manifest(len(files), digest.hexdigest(), licences)


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _licences(table: Path) -> dict[str, str]:
    """file → licence from a tab-separated SOURCES.tsv with a header row naming ``file`` and ``licence``."""
    with table.open(encoding="utf-8", newline="") as f:
        rows = csv.DictReader(f, delimiter="\t")
        if rows.fieldnames is None or not {"file", "licence"} <= set(rows.fieldnames):
            raise SrganError("needs a header row with the columns file and licence", table)
        return {row["file"]: row["licence"] for row in rows}
