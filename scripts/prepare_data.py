"""Build the training and validation folders for the shipped model from freely licensed photos.

Sources: Debian packages ``plasma-workspace-wallpapers`` (GPL-2+, KDE Visual Design Group),
``lomiri-wallpapers-16.04`` and ``lomiri-wallpapers-20.04`` (see their debian/copyright; CC-BY-SA 3.0 photos by the
named authors), the natural photos of ``mate-backgrounds`` (``nature/``: GPL-2+, photographers named in its
debian/copyright), the puzzle photos of ``palapeli-data`` (each photo's author and licence in its ``.desktop`` file)
and photos bundled with scikit-image (public domain / CC0). The wallpaper packages are largely
abstract renders; the MATE nature photos give the SRGAN discriminator real textures (leaves, water, sand, wood).
Set5/Set14 are never used. Writes OUT/train (copies), OUT/train_scaled (each training photo shrunk to 1/2 and 1/3
with MATLAB's bicubic, as Real-ESRGAN's multi-scale training set: the wallpapers are 2–24 MP and smooth at the pixel,
while the photos people upscale and the benchmarks are denser; the shrink also removes the originals' JPEG artefacts
from the HR targets), OUT/val (384×384 centre crops of the held-out images: the
SRResNet validation), OUT/holdout (the same held-out photos whole, box-reduced by an integer factor to at most 768
pixels on a side: whole scenes with texture, which NIQE needs — the centre crops are mostly sky and bokeh),
OUT/holdout_dense (the five palapeli photos, reduced the same way and never trained on: dense everyday scenes — a
castle, a bridge, fruit, a bee, a chameleon — where the seven of OUT/holdout are mostly smooth; with them they choose
real-x4) and OUT/SOURCES.tsv (file, source, licence).

Natural photographs gathered for training (a folder like ``../shared/traindata``: ImageNet, BSDS500 and wallpaper
photos, checked against every benchmark set, so nothing needs holding out) are trained on where they lie, never
copied or committed: ``--traindata DIR`` writes OUT/traindata.json, their manifest (folder, file count, SHA-256 over
every file's bytes, licences; see ``srgan.data.manifest``) for the run config and model card, and OUT/traindata.tsv,
the SOURCES.tsv rows of the files it counted, so each file's origin and licence stay with the run.

Usage: python scripts/prepare_data.py OUT   (needs apt-get and dpkg; installs scikit-image with pip if absent)
       python scripts/prepare_data.py --traindata DIR OUT   (the manifest only; no download)
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

from PIL import Image

from srgan.data.degrade import imresize
from srgan.data.manifest import SOURCES, data_manifest
from srgan.errors import SrganError
from srgan.fileio import atomic_write
from srgan.images import read_rgb8

PACKAGES = {
    "plasma-workspace-wallpapers": "GPL-2+ (KDE Visual Design Group; debian/copyright)",
    "lomiri-wallpapers-16.04": "CC-BY-SA-3.0 (photographer in the file name; debian/copyright)",
    "lomiri-wallpapers-20.04": "CC-BY-SA-3.0 (photographer in the file name; debian/copyright)",
    "mate-backgrounds": "GPL-2+ (photographer per file in debian/copyright)",
    "palapeli-data": "GPL-2+ package",
}
SKIMAGE_PHOTOS = {
    "astronaut.png": "public domain (NASA)",
    "chelsea.png": "CC0 (Stefan van der Walt)",
    "coffee.png": "CC0 (Rachel Michetti)",
    "rocket.jpg": "public domain (NASA/Bill Ingalls)",
    "motorcycle_left.png": "public domain (Middlebury stereo data set, scikit-image)",
}
LOMIRI_20_04 = {"Fossa_by_Jasper_Roks.jpg", "Infinite-Sea_by_Aury88.jpg", "Kleiber_by_Lukas_Baubkus.jpg",
                "Painting-Colors_by__herobrine7gamer.jpg"}
# Held out from training: validation crops (and examples/ for the demo come from these too).
VAL = {"Bridge_by_Sander_Klootwijk.jpg", "Dragonfly_by_Bolly.jpg", "ColorfulCups", "coffee.png", "chelsea.png",
       "LadyBird.jpg", "Storm.jpg"}
DENSE = {"castle-maintenon.jpg", "cincinnati-bridge.jpg", "citrus-fruits.jpg", "european-honey-bee.jpg",
         "panther-chameleon-female.jpg"}  # OUT/holdout_dense: every palapeli photo
VAL_CROP = 384
HOLDOUT_SIDE = 768
SHRINK = (2, 3)  # OUT/train_scaled: every training photo also at 1/2 and 1/3 of its size


def _largest(folder: Path) -> Path | None:
    images = [p for p in folder.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg")]
    best = max(images, key=lambda p: Image.open(p).size[0] * Image.open(p).size[1], default=None)
    return None if best is None else best.resolve()  # renditions are often symlinks to one file


def _whole(img: Image.Image) -> Image.Image:
    """A held-out photo whole, box-reduced by the smallest integer factor that brings it to HOLDOUT_SIDE or less."""
    return img.reduce(-(-max(img.size) // HOLDOUT_SIDE))


def _desktop_fields(path: Path) -> dict[str, str]:
    """The untranslated ``key=value`` lines of a freedesktop ``.desktop`` file (translations are ``key[lang]``)."""
    lines = (line.split("=", 1) for line in path.read_text(encoding="utf-8").splitlines() if "=" in line)
    return {key: value for key, value in lines if "[" not in key}


def collect(extracted: Path, skimage_dir: Path) -> list[tuple[str, Path, str, str]]:
    """(name, file, source, licence) for every source photo, one file per wallpaper (its largest rendition)."""
    found = []
    for wallpaper in sorted((extracted / "usr/share/wallpapers").iterdir()):
        best = _largest(wallpaper / "contents" / "images")
        if best is not None:
            found.append((wallpaper.name, best, f"plasma-workspace-wallpapers:/{best.relative_to(extracted)}",
                          PACKAGES["plasma-workspace-wallpapers"]))
    for photo in sorted((extracted / "usr/share/backgrounds").glob("*.jpg")):  # both lomiri packages
        package = "lomiri-wallpapers-20.04" if photo.name in LOMIRI_20_04 else "lomiri-wallpapers-16.04"
        found.append((photo.name, photo, f"{package}:/{photo.relative_to(extracted)}", PACKAGES[package]))
    for photo in sorted((extracted / "usr/share/backgrounds/mate/nature").glob("*.jpg")):
        found.append((photo.name, photo, f"mate-backgrounds:/{photo.relative_to(extracted)}",
                      PACKAGES["mate-backgrounds"]))
    for desktop in sorted((extracted / "usr/share/palapeli/collection").glob("*.desktop")):
        info = _desktop_fields(desktop)
        photo = desktop.with_name(info["Image"])
        origin = info.get("X-KDE-PluginInfo-Website", "")
        found.append((photo.name, photo, f"palapeli-data:/{photo.relative_to(extracted)} {origin}".strip(),
                      f"{info['X-KDE-PluginInfo-License']} ({info['X-KDE-PluginInfo-Author']}; its .desktop file); "
                      f"{PACKAGES['palapeli-data']}"))
    for name, licence in SKIMAGE_PHOTOS.items():
        found.append((name, skimage_dir / name, f"scikit-image:skimage/data/{name}", licence))
    return found


def main(out: Path) -> None:
    debs = out / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    subprocess.run(["apt-get", "download", *PACKAGES], cwd=debs, check=True)
    extracted = out / "extracted"
    for deb in sorted(debs.glob("*.deb")):
        subprocess.run(["dpkg", "-x", str(deb), str(extracted)], check=True)
    try:
        import skimage
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "scikit-image"], check=True)
        import skimage
    skimage_dir = Path(skimage.__file__).parent / "data"
    train, scaled, val, holdout = out / "train", out / "train_scaled", out / "val", out / "holdout"
    dense = out / "holdout_dense"
    for d in (train, scaled, val, holdout, dense):
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir()
    rows = ["file\tsplit\tsource\tlicence"]
    for name, path, source, licence in collect(extracted, skimage_dir):
        stem = Path(name).stem
        if name in VAL:
            img = Image.open(path).convert("RGB")
            w, h = img.size
            side = min(VAL_CROP, w, h)
            left, top = (w - side) // 2, (h - side) // 2
            dest = val / f"{stem}.png"
            img.crop((left, top, left + side, top + side)).save(dest)
            _whole(img).save(holdout / f"{stem}.png")
            split = "val"
        elif name in DENSE:
            dest = dense / f"{stem}.png"
            _whole(Image.open(path).convert("RGB")).save(dest)
            split = "holdout_dense"
        else:
            dest = train / f"{stem}{path.suffix.lower()}"
            shutil.copyfile(path, dest)
            split = "train"
        rows.append(f"{dest.name}\t{split}\t{source}\t{licence}")
        if split == "train":
            pixels = read_rgb8(dest)
            for k in SHRINK:
                small = scaled / f"{stem}_x1-{k}.png"
                Image.fromarray(imresize(pixels, 1 / k)).save(small, compress_level=1)
                rows.append(f"{small.name}\ttrain_scaled\t{source} (MATLAB bicubic 1/{k})\t{licence}")
    (out / "SOURCES.tsv").write_text("\n".join(rows) + "\n")
    print(f"{len(list(train.iterdir()))} training photos (and {len(list(scaled.iterdir()))} shrunk copies) and "
          f"{len(list(val.iterdir()))} validation images in {out}")


def record_traindata(traindata: Path, out: Path) -> dict[str, object]:
    """Write OUT/traindata.json (the manifest of ``traindata``, with its resolved path) and OUT/traindata.tsv (the
    SOURCES.tsv header and the rows of the counted files); returns the JSON's content."""
    manifest = data_manifest(traindata)
    if not manifest.licences:
        raise SrganError(f"no {SOURCES} beside the photos: their licences would be lost", traindata)
    record = {"folder": str(traindata.resolve()), **manifest.as_dict()}
    header, *rows = (traindata / SOURCES).read_text(encoding="utf-8").splitlines()
    rows = [row for row in rows if (traindata / row.split("\t", 1)[0]).is_file()]
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / "traindata.tsv", lambda tmp: tmp.write_text("\n".join([header, *sorted(rows)]) + "\n",
                                                                   encoding="utf-8"))
    text = json.dumps(record, indent=2, ensure_ascii=False) + "\n"
    atomic_write(out / "traindata.json", lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return record


def run(argv: list[str]) -> int:
    """The command line: the Debian photos into OUT, or with --traindata that folder's record (exit status)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="output folder")
    parser.add_argument("--traindata", type=Path, help="record this folder of training photos (manifest only)")
    args = parser.parse_args(argv)
    if args.traindata is None:
        main(args.out)
        return 0
    try:
        found = record_traindata(args.traindata, args.out)
    except SrganError as e:
        print(f"prepare_data.py: error: {e}", file=sys.stderr)
        return 1
    print(f"{found['files']} photos in {found['folder']}, sha256 {found['sha256']}: {args.out / 'traindata.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
