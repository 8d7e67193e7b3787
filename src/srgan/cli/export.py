"""``srgan export``: a generator as an ONNX graph, checked against PyTorch."""

from __future__ import annotations

import argparse

from srgan.errors import check_number


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a generator to ONNX (checked against PyTorch with onnxruntime)",
                       description="The graph maps LR RGB in [0, 1] (N, 3, H, W) to SR RGB in [0, 1]; tiling and "
                                   "image I/O stay outside it.")
    p.add_argument("weights", help="a .safetensors generator or a shipped model name")
    p.add_argument("--onnx", required=True, metavar="OUT.onnx", help="the ONNX file to write")
    p.add_argument("--dynamic", action="store_true", help="dynamic batch, height and width (else fixed --size)")
    p.add_argument("--size", type=int, nargs=2, default=(64, 64), metavar=("H", "W"),
                   help="input height and width of a fixed-size export (64 64)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing OUT.onnx")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from srgan import weights
    from srgan.export import export_onnx, verify_onnx

    for value in args.size:
        check_number("--size", value, 1)
    model = weights.load(weights.resolve(args.weights))
    path = export_onnx(model, args.onnx, dynamic=args.dynamic, size=tuple(args.size), overwrite=args.overwrite)
    print(f"wrote {path} (input 'lr' {'N×3×H×W, any size' if args.dynamic else f'1×3×{args.size[0]}×{args.size[1]}'}"
          f" in [0, 1] -> output 'sr' in [0, 1], ×{model.scale})")
    diff = verify_onnx(path, model, dynamic=args.dynamic, size=tuple(args.size))
    if diff is None:
        print("onnxruntime is not installed: parity check skipped (pip install 'srgan[onnx]')")
    else:
        print(f"onnxruntime vs torch: max abs difference {diff:.2e}")
    return 0
