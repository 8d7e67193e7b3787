"""``srgan info``: what a weight file holds, as a short summary (``--json``: everything), or the shipped models."""

from __future__ import annotations

import argparse
import json
from typing import Any

WIDTH = 200  # longest summary line: a long value is cut, --json has it whole
_ROLES = {"srresnet-x4": "default for PNG, TIFF and other lossless inputs", "real-x4": "default for JPEG inputs",
          "srgan-x4": "photo-realistic (GAN): sharper texture, lower PSNR"}


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="a weight file's summary (scale, training, scores); no argument: the shipped "
                                    "models",
                       description="Without an argument, lists the shipped models. With one, prints a summary of the "
                                   "weight file: architecture, parameters, training settings, benchmark scores; "
                                   "--json prints all its metadata (per-image scores, training data and licences).")
    p.add_argument("weights", nargs="?", help="a .safetensors file or a shipped model name")
    p.add_argument("--json", action="store_true", help="all the metadata as JSON")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from srgan import weights

    if args.weights is None:
        return _list_shipped(args.json)
    path = weights.resolve(args.weights)
    meta = weights.read_metadata(path)
    model = weights.load(path)
    n_params = sum(p.numel() for p in model.parameters())
    if args.json:
        print(json.dumps({"file": str(path), "parameters": n_params} | meta, indent=1, ensure_ascii=False))
        return 0
    print(f"file: {path}")
    print(f"architecture: {meta['architecture']}  scale: x{model.scale}  "
          f"blocks: {model.config.blocks}  channels: {model.config.channels}")
    print(f"parameters: {n_params:,}")
    first = ("name", "licence", "training", "eval")
    for key, value in sorted(meta.items(), key=lambda kv: first.index(kv[0]) if kv[0] in first else len(first)):
        if key not in ("architecture", "config"):
            for line in _summary(key, value):
                print(_cut(line))
    print("(srgan info --json: all of it)")
    return 0


def _list_shipped(as_json: bool) -> int:
    """One line per shipped model: name, scale, role, Set5/Set14 PSNR-Y."""
    from srgan import weights

    rows = []
    for name in weights.SHIPPED:
        meta = weights.read_metadata(weights.resolve(name))
        scores = {d: r.get("psnr_y") for d, r in meta.get("eval", {}).items() if isinstance(r, dict)}
        rows.append({"name": name, "scale": meta["config"]["scale"], "role": _ROLES.get(name, ""), "psnr_y": scores})
    if as_json:
        print(json.dumps(rows, indent=1))
        return 0
    for row in rows:
        scores = ", ".join(f"{d} {p:.2f} dB" for d, p in row["psnr_y"].items() if p is not None)
        print(_cut(f"{row['name']:<12} x{row['scale']}  {row['role']}" + (f"  (PSNR-Y {scores})" if scores else "")))
    print("srgan info NAME: one model's summary; --model NAME or a .safetensors file chooses the model of a command")
    return 0


def _summary(key: str, value: Any) -> list[str]:
    """A metadata entry as summary lines: plain values as they are; tables of per-dataset scores one line per
    dataset (means only); lists and per-item tables counted (``--json`` lists them)."""
    if isinstance(value, list):
        return [f"{key}: {len(value)} entries"]
    if not isinstance(value, dict):
        return [f"{key}: {value}"]
    lines = [f"{key}:"]
    for k, v in value.items():
        if isinstance(v, dict) and v and all(isinstance(x, dict) for x in v.values()):
            lines += [f"  {k}:"] + [f"    {d}: {_plain(r)}" for d, r in v.items()]
        elif isinstance(v, dict):
            lines.append(f"  {k}: {_plain(v)}")
        elif isinstance(v, list) and len(v) > 8:
            lines.append(f"  {k}: {len(v)} entries")
        else:
            lines.append(f"  {k}: {_number(v)}")
    return lines


def _plain(table: dict) -> str:
    """The plain values of a table, those of its sub-tables in brackets; per-item tables (names → numbers) and lists
    are left to --json."""
    kept = []
    for k, v in table.items():
        per_item = isinstance(v, list) or (isinstance(v, dict) and len(v) > 4
                                           and not any(isinstance(x, dict) for x in v.values()))
        if per_item:
            continue
        if isinstance(v, dict):
            kept.append(f"{k} ({_plain(v)})")
        else:
            kept.append(f"{k} {_number(v)}")
    return ", ".join(kept)


def _number(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) and abs(v) >= 1e-3 else str(v)


def _cut(line: str) -> str:
    return line if len(line) <= WIDTH else line[: WIDTH - 1] + "…"
