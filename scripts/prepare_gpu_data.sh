#!/usr/bin/env bash
# What a call on a lent GPU needs beside the checkout (scripts/train_gpu.sh), in .gpu/ (ignored by git, named in the
# device call's `carry`) and shared/benchmarks. Everything travelling must fit in 64 MiB with the checkout (12.5 MB),
# so the training photos are a subset of the natural photographs in TRAINDATA (default ../shared/traindata):
#   .gpu/val    the last 10 BSDS500 test photos by name: held out, the validation curve (PSNR-Y against steps)
#   .gpu/train  the other 388 BSDS500 train and test photos, and every 9th ImageNet photo by name while the ImageNet
#               part stays within 10 MB (71 photos): 459 photos, 38.7 MB of their published JPEG bytes
#   .gpu/site   imagecodecs with only its PNG and deflate codecs (srgan's PNG reader and writer): the GPU image has no
#               imagecodecs, and the whole wheel (26 MB) would crowd out 200 photos
#   .gpu/SOURCES.tsv  each photo's origin and licence (from TRAINDATA/SOURCES.tsv; split "train" or "val"), and
#   .gpu/manifest.sha256  the sha256 of every photo (the model card records the manifest's own hash)
# The photos are research-use images (BSDS500, ImageNet): train on them, never commit them.
set -euo pipefail
cd "$(dirname "$0")/.."
T=${TRAINDATA:-../shared/traindata}
mkdir -p .git/info && grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || printf '/.gpu/\n/shared/\n/gpu_out/\n' >> .git/info/exclude
rm -rf .gpu/train .gpu/val .gpu/site && mkdir -p .gpu/train/bsds .gpu/train/imagenet .gpu/val shared
cp -r "${BENCHMARKS:-../shared/benchmarks}" shared/
ls "$T/bsds500-test" | sort | tail -n 10 | while read -r f; do cp "$T/bsds500-test/$f" .gpu/val/; done
cp "$T"/bsds500-train/*.jpg .gpu/train/bsds/
ls "$T/bsds500-test" | sort | head -n 190 | while read -r f; do cp "$T/bsds500-test/$f" .gpu/train/bsds/; done
total=0 i=0
for f in $(ls "$T/imagenet" | sort); do
    i=$((i + 1)); [ $(((i - 1) % 9)) -eq 0 ] || continue
    size=$(stat -c %s "$T/imagenet/$f"); [ $((total + size)) -le 10000000 ] || continue
    cp "$T/imagenet/$f" .gpu/train/imagenet/; total=$((total + size))
done
python3 - "$T" <<'EOF'
import csv, sys
from pathlib import Path
rows = {r["file"]: r for r in csv.DictReader(open(Path(sys.argv[1]) / "SOURCES.tsv"), delimiter="\t")}
with open(".gpu/SOURCES.tsv", "w") as out:
    out.write("file\tsource\tlicence\tsplit\n")
    for split in ("train", "val"):
        for path in sorted(Path(".gpu", split).rglob("*.jpg")):
            key = next(k for k in rows if k.endswith("/" + path.name) and k.split("/")[0] in
                       (("imagenet",) if path.parent.name == "imagenet" else ("bsds500-train", "bsds500-test")))
            out.write(f"{key}\t{rows[key]['origin']}\t{rows[key]['licence']}\t{split}\n")
EOF
(cd .gpu && find train val -type f | sort | xargs sha256sum > manifest.sha256)
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 -d .gpu/wheel imagecodecs==2026.3.6
python3 - <<'EOF'
import zipfile
from pathlib import Path
keep = ("__init__.py", "_imagecodecs.py", "imagecodecs.py", "numcodecs.py", "py.typed", "_shared.abi3.so",
        "_shared_cython.abi3.so", "_imcd.abi3.so", "_png.abi3.so", "_deflate.abi3.so", "_zlib.abi3.so")
with zipfile.ZipFile(next(Path(".gpu/wheel").glob("imagecodecs-*.whl"))) as whl:
    for name in whl.namelist():
        top, _, rest = name.partition("/")
        if (top == "imagecodecs" and (rest in keep or rest.startswith("licenses/"))) or (
                top == "imagecodecs.libs" and rest.startswith(("libdeflate", "libpng16"))):
            whl.extract(name, ".gpu/site")
EOF
rm -rf .gpu/wheel
echo "train: $(find .gpu/train -type f | wc -l) photos, val: $(ls .gpu/val | wc -l); manifest sha256 $(sha256sum .gpu/manifest.sha256 | cut -c1-16)"
du -sh .gpu shared
