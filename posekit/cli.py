"""``posekit`` command line: synth | show | eval | info | train | pretrain | demo | infer | export |
convert | models | bench | configs | check-data.

Every command is a thin handler over library functions. Errors become one ``error: …`` line on
stderr and exit status 2 (a traceback only with ``--debug``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

__all__ = ["main", "build_parser"]


def _cmd_synth(args: argparse.Namespace) -> int:
    from posekit.data.synthpose import format_summary, generate_dataset

    summary = generate_dataset(
        args.out, args.num_images, seed=args.seed, size=args.size, crowd=args.crowd,
        split=args.split, workers=args.workers, style=args.style, skeleton=args.skeleton,
    )
    print(format_summary(summary))
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    from posekit.viz import show_dataset

    path = show_dataset(
        args.dataset, split=args.split, out=args.out, pred=args.pred, num=args.num,
        skeleton=args.skeleton, seed=args.seed, images=args.images,
    )
    print(f"wrote {path}")
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    if args.pred is not None:
        if args.gt is None:
            raise ValueError("--pred needs --gt (the ground-truth json)")
        from posekit.evaluation import evaluate_files

        report = evaluate_files(args.gt, args.pred, skeleton=args.skeleton)
        print(report.format())
        if args.json:
            report.write_json(args.json)
        return 0
    if args.checkpoint is not None or args.model is not None:
        from posekit.engine.evaluate import evaluate_checkpoint_cli

        _resolve_model_args(args)
        return evaluate_checkpoint_cli(args)
    raise ValueError(
        "give either --gt GT.json --pred RESULTS.json, or --checkpoint CKPT (or --model NAME) "
        "--data DIR"
    )


def _cmd_info(args: argparse.Namespace) -> int:
    from posekit.engine.info import info_cli

    return info_cli(args)


def _cmd_train(args: argparse.Namespace) -> int:
    from posekit.engine.train import train_cli

    return train_cli(args)


def _cmd_pretrain(args: argparse.Namespace) -> int:
    from posekit.config import load_config
    from posekit.engine.mae import pretrain

    cfg = load_config(args.config, args.overrides)
    path = pretrain(cfg, args.out, epochs=args.epochs, mask_ratio=args.mask_ratio, lr=args.lr,
                    max_minutes=args.minutes, device=args.device)
    print(f"wrote {path}; fine-tune with model.init_checkpoint={path}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from posekit.demo import run_demo

    return run_demo(args)


def _cmd_convert(args: argparse.Namespace) -> int:
    from posekit.export.convert import convert_cli

    return convert_cli(args)


def _cmd_export(args: argparse.Namespace) -> int:
    from posekit.export.onnx import export_cli

    _resolve_model_args(args)
    return export_cli(args)


def _resolve_model_args(args: argparse.Namespace) -> None:
    """``--model NAME`` → its cached checkpoint in ``args.checkpoint`` (fetched and converted on
    first use); a ``--detector`` that names a table model → its checkpoint."""
    from posekit.hub import checkpoint_or_model, is_model_name, resolve

    given = checkpoint_or_model(args.checkpoint, args.model)
    args.checkpoint = str(resolve(given)) if args.model is not None else given
    if getattr(args, "detector", None) and is_model_name(args.detector):
        args.detector = str(resolve(args.detector))


def _cmd_models(args: argparse.Namespace) -> int:
    import json

    from posekit.hub import format_table, table_records

    print(json.dumps(table_records(), indent=1) if args.json else format_table())
    return 0


def _cmd_infer(args: argparse.Namespace) -> int:
    from posekit.infer import infer_cli

    return infer_cli(args)


def _cmd_bench(args: argparse.Namespace) -> int:
    from posekit.benchmarking import bench_cli

    return bench_cli(args)
def _cmd_configs(args: argparse.Namespace) -> int:
    from posekit.config import configs_root, list_configs

    shipped = list_configs()
    if not shipped:
        raise FileNotFoundError("no shipped configs found (posekit/configs is missing)")
    root = configs_root()
    for name, path in shipped.items():
        print(f"{path.parent.name:16s} {name}" + (f"  ({path})" if args.paths else ""))
    if args.paths:
        print(f"# {len(shipped)} configs under {root}")
    return 0


def _cmd_check_data(args: argparse.Namespace) -> int:
    from posekit.engine.train import check_data_cli

    return check_data_cli(args)


def _add_reliability_commands(add: Callable[..., argparse.ArgumentParser]) -> None:
    """``configs`` and ``check-data``."""
    p = add("configs", _cmd_configs, "list the shipped configs (usable by name)")
    p.add_argument("--paths", action="store_true", help="also print each file's path")
    p = add("check-data", _cmd_check_data,
            "check a config's train and val data as training does before its first step")
    p.add_argument("config", help="YAML file or shipped config name")
    p.add_argument("overrides", nargs="*", help="overrides: data.root=DIR")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="posekit", description="Multi-person 2D pose estimation: make data, train, evaluate, "
        "run and export pose models. `posekit COMMAND --help` describes a command.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True)

    def add(
        name: str, fn: Callable[[argparse.Namespace], int], help: str
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        # SUPPRESS: an absent sub-command --debug leaves `posekit --debug CMD`'s value alone.
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show tracebacks on errors")
        p.set_defaults(func=fn)
        return p

    p = add("synth", _cmd_synth, "generate a SynthPose dataset (COCO format)")
    p.add_argument("--out", required=True, help="dataset directory")
    p.add_argument("--num-images", type=int, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--size", type=int, default=256, help="image side in pixels")
    p.add_argument("--crowd", choices=["sparse", "normal", "dense"], default="normal")
    p.add_argument("--split", default="val")
    p.add_argument("--workers", type=int, default=1, help="processes to render with")
    p.add_argument("--style", default="classic",
                   help="rendering style(s): a name, a comma-separated list or a family "
                        "(classic, random, mixed, train; see posekit.data.synthpose.styles)")
    p.add_argument("--skeleton", choices=["coco17", "coco", "mpii16", "mpii"], default="coco17",
                   help="keypoint set written to the json (MPII-16 from the same figure)")

    p = add("show", _cmd_show, "draw a contact sheet of a COCO-format dataset")
    p.add_argument("dataset", help="dataset directory (images/<split>, annotations/) or a COCO "
                   "keypoint json")
    p.add_argument("--split", default="val")
    p.add_argument("--images", default=None, help="image folder when DATASET is a json "
                   "(default: the json's folder)")
    p.add_argument("--out", required=True, help="output PNG")
    p.add_argument("--pred", default=None, help="COCO results json to draw beside the truth")
    p.add_argument("--num", type=int, default=16, help="number of images on the sheet")
    p.add_argument("--skeleton", default=None, help="skeleton name (default: from the json)")
    p.add_argument("--seed", type=int, default=0, help="which images to pick")

    p = add("eval", _cmd_eval, "COCO keypoint AP of a results file, or of a trained checkpoint")
    p.add_argument("--gt", default=None, help="ground-truth COCO keypoints json")
    p.add_argument("--pred", default=None, help="COCO results json")
    p.add_argument("--json", default=None, help="write the 10 stats to this json")
    p.add_argument("--skeleton", default=None, help="skeleton name (default: from the json)")
    p.add_argument("--config", default=None, help="model config (with --checkpoint)")
    p.add_argument("--checkpoint", default=None, help="trained checkpoint")
    p.add_argument("--model", default=None, help="a pretrained model by name (posekit models)")
    p.add_argument("--data", default=None, help="dataset directory (with --checkpoint)")
    p.add_argument("--split", default="val")
    p.add_argument("--images", default=None, help="image folder when --data is a json")
    p.add_argument("--pred-out", default=None, help="write the model's COCO results here")
    p.add_argument("--detections", default=None, help="COCO detection results (default: GT boxes)")
    p.add_argument("--detector", default=None,
                   help="checkpoint or model name of a model that finds people without boxes "
                   "(one-stage, bottom-up) whose people's boxes replace the GT boxes")
    p.add_argument("--device", default="cpu")
    p.add_argument("--flip-test", action="store_true")

    p = add("info", _cmd_info, "parameters and FLOPs of a model config")
    p.add_argument("config")
    p.add_argument("--json", action="store_true", help="print {params, flops, input_size} as json")

    p = add("train", _cmd_train, "train a model from a YAML config")
    p.add_argument("config", help="YAML file or shipped config name (posekit configs)")
    p.add_argument("--out", default=None, help="run directory (default: runs/<config name>)")
    p.add_argument("--resume", default=None, help="checkpoint to continue from")
    p.add_argument("--exist-ok", action="store_true",
                   help="start a new run in an existing, non-empty --out folder")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--device", default=None, help="cpu | cuda (default: cuda if available)")
    p.add_argument("overrides", nargs="*", help="overrides: optim.lr=1e-3")

    p = add("pretrain", _cmd_pretrain, "MAE pre-training of a ViTPose backbone on person crops")
    p.add_argument("config", help="YAML file or shipped config name (its model and train data)")
    p.add_argument("--out", required=True, help="folder for mae.pt")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--mask-ratio", type=float, default=0.75)
    p.add_argument("--lr", type=float, default=6e-4)
    p.add_argument("--minutes", type=float, default=0.0, help="time budget (0 = none)")
    p.add_argument("--device", default="cpu")
    p.add_argument("overrides", nargs="*", help="overrides: data.root=DIR")

    p = add("demo", _cmd_demo, "generate SynthPose, train a small model, evaluate and draw")
    p.add_argument("--out", default="runs/demo")
    p.add_argument("--minutes", type=float, default=None, help="training time budget")
    p.add_argument("--epochs", type=int, default=None, help="override the config's epochs")
    p.add_argument("--train-images", type=int, default=2000)
    p.add_argument("--val-images", type=int, default=200)

    p = add("infer", _cmd_infer, "poses in images, folders, globs, videos or a camera")
    p.add_argument("source", help="image, folder (recursive), glob, video file or camera index")
    p.add_argument("--checkpoint", default=None, help="posekit checkpoint (.pt) or .onnx")
    p.add_argument("--model", default=None,
                   help="a pretrained model by name instead (posekit models), e.g. rtmo-s")
    p.add_argument("--detector", default=None,
                   help="top-down person boxes: full-image | DETECTIONS.json | CKPT or NAME of "
                   "a one-stage or bottom-up model (default with --model: rtmo-s)")
    p.add_argument("--out", default="runs/infer", help="output directory")
    p.add_argument("--device", default="cpu")
    p.add_argument("--no-draw", action="store_true", help="write only the results json")
    p.add_argument("--max-frames", type=int, default=0, help="stop a video/camera after N frames")
    p.add_argument("--track", action="store_true",
                   help="video/camera: a track_id per person, stable across frames (json and "
                   "drawing); greedy matching to each track's last pose")
    p.add_argument("--track-by", choices=("oks", "iou"), default="oks",
                   help="--track similarity: keypoint OKS or box IoU; a match needs ≥ 0.3")
    p.add_argument("--max-missed", type=int, default=30,
                   help="--track: frames a person may go undetected and keep its id (default 30)")
    p.add_argument("--smooth", action="store_true",
                   help="with --track: One-Euro filter each keypoint coordinate per track, "
                   "at the video's frame rate; speed cut-off 1 Hz (Casiez et al., CHI 2012)")
    p.add_argument("--min-cutoff", type=float, default=1.0,
                   help="--smooth: cut-off in Hz of a still keypoint; lower = less jitter "
                   "(default 1.0)")
    p.add_argument("--beta", type=float, default=0.05,
                   help="--smooth: cut-off increase in Hz per px/s of speed; higher = less lag "
                   "(default 0.05)")
    p.add_argument("--threads", type=int, default=0,
                   help="torch / onnxruntime threads (0 = default; 1 is best on a busy CPU)")

    p = add("export", _cmd_export, "export a checkpoint to ONNX (runs on onnxruntime)")
    p.add_argument("--checkpoint", default=None, help="posekit checkpoint (.pt)")
    p.add_argument("--model", default=None, help="a pretrained model by name (posekit models)")
    p.add_argument("--out", required=True, help="model.onnx")
    p.add_argument("--opset", type=int, default=18)
    p.add_argument("--batch", default="dynamic", help="dynamic | N (a fixed batch size)")
    p.add_argument("--external-data", action="store_true",
                   help="always write the weights to OUT.data beside OUT (automatic when they "
                   "exceed protobuf's 2 GB limit)")

    p = add("convert", _cmd_convert, "convert a reference (MMPose) checkpoint to posekit")
    p.add_argument("src", help="the reference checkpoint (.pth)")
    p.add_argument("--config", required=True, help="posekit config of the same model")
    p.add_argument("--out", required=True, help="posekit checkpoint to write (.pt)")
    p.add_argument("--force", action="store_true", help="replace an existing --out file")

    p = add("models", _cmd_models, "the pretrained models usable by name (--model NAME), "
            "with their COCO AP, size and cache state")
    p.add_argument("--json", action="store_true", help="every field of every entry as json")

    p = add("bench", _cmd_bench, "latency vs number of people on SynthPose, eager and ORT")
    p.add_argument("models", nargs="*", help="checkpoints or configs (default: SimpleBaseline "
                   "tiny and Res-50 configs)")
    p.add_argument("--people", default="1,2,4,8,16,32", help="comma-separated people counts")
    p.add_argument("--repeats", type=int, default=3, help="timed runs per image")
    p.add_argument("--budget", type=float, default=0.0, help="seconds per model × runtime × "
                   "people cell: fewer repeats for slow calls (0 = always --repeats)")
    p.add_argument("--size", type=int, default=512, help="image side in pixels")
    p.add_argument("--runtimes", default="torch,onnxruntime")
    p.add_argument("--threads", type=int, default=0, help="torch/ORT threads (0 = default)")
    p.add_argument("--out", default="runs/bench", help="writes bench.md and bench.png here")
    p.add_argument("--seed", type=int, default=0)
    _add_reliability_commands(add)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown and args.command not in ("train", "check-data"):
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.command in ("train", "check-data"):
        args.overrides = list(args.overrides) + unknown
    from posekit.errors import install_warning_format, one_line_error

    install_warning_format()
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - the CLI boundary turns every error into one line
        if args.debug:
            raise
        print(f"error: {one_line_error(exc)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
