"""Experiment configuration: one typed dataclass per concern, YAML as their strict serialisation.

A YAML file maps 1:1 onto :class:`ExperimentConfig` (sections ``model``, ``codec``, ``data``,
``augment``, ``optim``, ``schedule``, ``train``, ``test``, ``distill``, ``onestage``). Unknown keys
and wrong types are errors that name the key. Command-line overrides use the same dotted paths
(``--optim.lr 1e-3`` or ``optim.lr=1e-3``). The resolved config is printed by ``posekit train``
and stored in checkpoints.
No inheritance: one file is one experiment.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "ModelConfig",
    "CodecConfig",
    "DataConfig",
    "AugmentConfig",
    "OptimConfig",
    "ScheduleConfig",
    "TrainConfig",
    "TestConfig",
    "OneStageConfig",
    "ExperimentConfig",
    "load_config",
    "config_from_dict",
    "config_to_dict",
    "apply_overrides",
    "config_sets",
    "save_config",
    "find_config",
    "list_configs",
    "configs_root",
]


@dataclass
class ModelConfig:
    name: str = "simple_baseline_tiny"  # key of posekit.models.MODELS
    task: str = "topdown"  # paradigm: key of posekit.engine.tasks.TASKS
    loss: str = "mse"  # mse (masked L2, summed over stages) | ohkm (CPN's hard keypoint mining)
    ohkm_topk: int = 8  # keypoints kept per sample by OHKM (CPN: 8 of 17)
    # λ_t of F = Σ λ_t f_t over a multi-stage model's outputs (talk §7); empty = 1 for every
    # stage; e.g. [0, 0, 1] trains a 3-stage CPM on its final stage only
    stage_weights: tuple[float, ...] = ()
    # Extra keyword arguments of the constructor, checked against its signature.
    kwargs: dict[str, Any] = field(default_factory=dict)
    # posekit checkpoint whose weights with matching names initialise the model (e.g. the MAE
    # backbone written by `posekit pretrain`); empty = none.
    init_checkpoint: str = ""


@dataclass
class CodecConfig:
    kind: str = "heatmap"  # target encoding; see posekit.codecs
    input_size: tuple[int, int] = (192, 256)  # model input (w, h), MMPose's order
    heatmap_size: tuple[int, int] = (48, 64)  # (w, h); input / output stride
    sigma: float = 2.0  # Gaussian σ in heatmap pixels (MMPose convention)
    refine: str = "dark"  # none | quarter | dark
    udp: bool = False  # unbiased data processing (UDP) mapping
    unbiased_encoding: bool = False  # float Gaussian centres (DARK encoding)
    background: bool = False  # append CPM's background map (P + 1 targets); model must match
    # σ of the extra outputs of a multi-level model, in output order, before the last output
    # (which uses ``sigma``): CPN's GlobalNet levels, coarsest first. Those outputs are trained
    # with plain L2 on visible (v = 2) keypoints only, as CPN's global loss; empty = none.
    level_sigmas: tuple[float, ...] = ()

    limb_width: float = 1.0  # PAF half-width σ_l in heatmap pixels (codec kind "paf" only)


@dataclass
class DataConfig:
    # A dataset directory in SynthPose layout (images/<split>/,
    # annotations/person_keypoints_<split>.json), or explicit json + image folder per split
    # for any COCO-format dataset.
    root: str = ""
    train_split: str = "train"
    val_split: str = "val"
    train_ann: str = ""
    train_images: str = ""
    val_ann: str = ""
    val_images: str = ""
    # Keypoint set; when a config leaves it out, training takes it from the train json's person
    # category if that names a built-in skeleton (CrowdPose's 14 points), else coco17.
    skeleton: str = "coco17"
    batch_size: int = 32
    val_batch_size: int = 64
    workers: int = 2  # DataLoader worker processes
    shuffle: bool = True  # shuffle the training samples each epoch; false keeps the dataset order
    min_keypoints: int = 1  # train only on people with at least this many labelled keypoints
    max_val_images: int = 0  # 0 = all; a cap keeps periodic validation cheap
    # Multi-dataset training (task topdown_multi): more COCO-format training files, each with its
    # own skeleton and its own ViTPose head (images next to the json); empty = single dataset.
    extra_train_anns: tuple[str, ...] = ()
    extra_skeletons: tuple[str, ...] = ()
    extra_train_images: tuple[str, ...] = ()  # image folders of those files (empty = json's folder)
    # Before training, both splits' images are checked: "decode" reads every image at 1/8 size
    # (seconds for thousands of images), "exists" only checks the files are there (huge sets).
    check_images: str = "decode"


@dataclass
class AugmentConfig:
    # false: no random transform at all; each training sample is the plain crop / fit of test time
    enabled: bool = True
    flip_prob: float = 0.5
    half_body_prob: float = 0.3
    # MMPose 1.x RandomBBoxTransform defaults: scale ~ truncnorm within the range, rotation ~
    # truncnorm[-1, 1]·factor degrees with probability rotate_prob, shift ·scale with prob 0.3.
    scale_range: tuple[float, float] = (0.5, 1.5)
    rotate_factor: float = 80.0
    rotate_prob: float = 0.6
    shift_factor: float = 0.16
    color_jitter: bool = True
    mosaic_prob: float = 0.0  # one-stage only: chance of a 2×2 mosaic of training images (RTMO: 1)


@dataclass
class OptimConfig:
    optimizer: str = "adamw"  # adam | adamw | sgd
    lr: float = 5e-4
    weight_decay: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)
    momentum: float = 0.9  # sgd only
    grad_clip: float = 0.0  # max grad norm; 0 disables
    ema: bool = False  # keep an exponential moving average of the weights for evaluation
    ema_decay: float = 0.9998
    # Layer-wise LR decay for models with param_groups() (ViTPose: 0.75–0.85); 1.0 = off.
    layer_decay: float = 1.0
    # LR multipliers by parameter-name prefix, e.g. {neck.transformer: 0.05} (RTMO's encoder).
    lr_mults: dict[str, float] = field(default_factory=dict)
    # Parameters are decayed when they have 2+ dimensions; a 1-D one whose name ends with one of
    # these is decayed too. MMPose decays by module type and ".bias" instead, so its RTMO also
    # decays [sigma_scale, res_scale, norm.g, in_proj.bias] (the MMPose parity tests set these).
    decay_also: tuple[str, ...] = ()


@dataclass
class ScheduleConfig:
    epochs: int = 210
    policy: str = "step"  # step | cosine
    steps: tuple[int, ...] = (170, 200)  # epochs where lr is multiplied by gamma (policy step)
    gamma: float = 0.1
    min_lr_ratio: float = 0.0  # cosine floor as a fraction of lr
    warmup_iters: int = 500  # warm-up iterations (MMPose default)
    warmup_ratio: float = 0.001  # linear warm-up starts at lr · ratio
    # > 0: the warm-up lasts this many epochs instead of warmup_iters (RTMO: 5)
    warmup_epochs: int = 0
    # linear: MMEngine's LinearLR, lr · (ratio + (1 − ratio) · t / (T − 1)), full lr at t = T − 1;
    # quadratic: MMPose's QuadraticWarmupLR (RTMO), lr · ((t + 1) / T)²
    warmup: str = "linear"


@dataclass
class TrainConfig:
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda
    amp: bool = True  # mixed precision where the device supports it (CUDA)
    cpu_amp: bool = False  # bf16 autocast on CPUs with native bf16 (AVX512-BF16 / AMX); else off
    val_interval: int = 10  # epochs between validations (and best.pt updates)
    checkpoint_interval: int = 1  # epochs between last.pt writes
    log_interval: int = 20  # iterations between log lines (metrics.csv and scalars.jsonl)
    # > 0: stop after this many training iterations (the lr schedule still spans schedule.epochs)
    max_iters: int = 0
    max_minutes: float = 0.0  # wall-clock budget; 0 = none (the run stops cleanly at an epoch end)
    tensorboard: bool = False  # also log to TensorBoard if it is installed (CSV is always written)


@dataclass
class TestConfig:
    flip_test: bool = True
    shift_heatmap: bool = True  # MMPose's one-pixel shift of flipped heatmaps (not with UDP)
    kpt_score_thresh: float = 0.2  # keypoints counted in the person rescoring
    nms_thresh: float = 0.9  # OKS NMS threshold (MMPose's top-down default)
    det_score_thresh: float = 0.0  # detections below this are dropped
    scales: tuple[float, ...] = (1.0,)  # bottom-up: input height multipliers; maps averaged


@dataclass
class DistillConfig:
    """ViTPose distillation (talk §13; posekit.engine.distill), used by task topdown_distill."""

    kind: str = "output"  # output (student regresses teacher heatmaps) | token (knowledge token)
    teacher_model: str = ""  # MODELS key of the teacher (a bigger ViTPose)
    teacher_kwargs: dict[str, Any] = field(default_factory=dict)
    teacher_checkpoint: str = ""  # posekit checkpoint ({"model": ...}) of the trained teacher
    output_weight: float = 1.0  # weight of the teacher-heatmap MSE against the GT loss
    token_steps: int = 200  # iterations training the knowledge token on the frozen teacher
    token_lr: float = 1e-3


@dataclass
class OneStageConfig:
    """RTMO training (task onestage). Defaults are MMPose's released RTMO configs: loss weights of
    the first phase, then from ``stage2_epoch`` (their epoch 280 of 600) the second phase, where
    the proxy keypoints and the classification targets follow the DCC (``proxy_target_cc``)."""

    loss_weights: dict[str, float] = field(default_factory=lambda: {
        "cls": 1.0, "iou": 5.0, "oks": 30.0, "vis": 1.0, "mle": 1.0, "l1": 1.0})
    overlaps_power: float = 0.5  # classification target of a positive = OKS ** power
    stage2_epoch: int = -1  # first epoch of the second phase; -1 = never
    stage2_loss_weights: dict[str, float] = field(default_factory=lambda: {
        "mle": 5.0, "oks": 10.0})
    stage2_overlaps_power: float = -1.0  # from stage2_epoch on; negative = keep (RTMO-m/l: 1.0)
    keypoints_for_center: bool = True  # SimOTA centre prior: keypoints' mean (RTMO-s) or box
    # first epoch of the L1 box loss (loss_weights.l1); MMPose adds it for the last 20 epochs
    # (580 of 600, YOLOXPoseModeSwitchHook); -1 = never
    aux_epoch: int = -1
    # how a whole image is fitted into the input: mmpose (MMPose's BottomupRandomAffine /
    # BottomupResize: centred, its get_warp_matrix arithmetic, as posekit's one-stage inference)
    # or letterbox (top-left, the YOLOX habit)
    fit: str = "mmpose"


@dataclass
class ExperimentConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    codec: CodecConfig = field(default_factory=CodecConfig)
    data: DataConfig = field(default_factory=DataConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    test: TestConfig = field(default_factory=TestConfig)
    distill: DistillConfig = field(default_factory=DistillConfig)
    onestage: OneStageConfig = field(default_factory=OneStageConfig)
    name: str = ""  # experiment name (defaults to the YAML file's stem)


def _coerce(value: Any, tp: Any, path: str) -> Any:
    """Check/convert a YAML value to the annotated type; errors name the dotted key."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(tp)
        if value is None and type(None) in options:
            return None
        errors = []
        for opt in options:
            if opt is type(None):
                continue
            try:
                return _coerce(value, opt, path)
            except (TypeError, ValueError) as exc:
                errors.append(str(exc))
        raise TypeError(f"{path}: {value!r} matches none of {tp}")
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise TypeError(f"{path}: expected a mapping, got {type(value).__name__}")
        return _from_dict(tp, value, path)
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(value, list | tuple):
            raise TypeError(f"{path}: expected a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], f"{path}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise ValueError(f"{path}: expected {len(args)} values, got {len(value)}")
        pairs = enumerate(zip(value, args, strict=True))
        return tuple(_coerce(v, a, f"{path}[{i}]") for i, (v, a) in pairs)
    if origin is dict:
        if not isinstance(value, dict):
            raise TypeError(f"{path}: expected a mapping, got {value!r}")
        key_tp, value_tp = typing.get_args(tp) or (Any, Any)
        if key_tp is str:  # YAML reads a key such as 1 or 1.5 as a number
            value = {str(k): v for k, v in value.items()}
        return {k: _coerce(v, value_tp, f"{path}.{k}") for k, v in value.items()}
    if tp is bool:
        if not isinstance(value, bool):
            raise TypeError(f"{path}: expected true/false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{path}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, str):  # PyYAML reads "1e-3" (no dot) as a string
            try:
                return float(value)
            except ValueError:
                raise TypeError(f"{path}: expected a number, got {value!r}") from None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"{path}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise TypeError(f"{path}: expected a string, got {value!r}")
        return value
    raise TypeError(f"{path}: unsupported config type {tp}")


def _from_dict(cls: type, data: dict, path: str = "") -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    for key in data:
        if key not in names:
            where = f"{path}.{key}" if path else key
            raise ValueError(f"unknown config key {where!r}; known: {', '.join(sorted(names))}")
    kwargs = {
        key: _coerce(value, hints[key], f"{path}.{key}" if path else key)
        for key, value in data.items()
    }
    return cls(**kwargs)


def config_from_dict(data: dict) -> ExperimentConfig:
    """Build a config from a plain dict (as loaded from YAML or a checkpoint), strictly."""
    if not isinstance(data, dict):
        raise TypeError(f"config must be a mapping, got {type(data).__name__}")
    return _from_dict(ExperimentConfig, data)


def config_to_dict(cfg: Any) -> dict:
    """Plain-python dict (tuples as lists) suitable for YAML and ``torch.save(weights_only)``."""

    def plain(v: Any) -> Any:
        if isinstance(v, tuple | list):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v

    return plain(dataclasses.asdict(cfg))


def configs_root() -> Path | None:
    """Folder of the configs shipped with posekit (``<family>/<name>.yaml`` files).

    An installed posekit carries them as package data (``posekit/configs``, mapped from the
    repository's top-level ``configs/`` by pyproject.toml); a source checkout uses ``configs/``
    next to the package.
    """
    import importlib.util

    spec = importlib.util.find_spec("posekit.configs")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            if Path(location).is_dir():
                return Path(location)
    checkout = Path(__file__).resolve().parent.parent / "configs"
    return checkout if checkout.is_dir() else None


def list_configs() -> dict[str, Path]:
    """Shipped configs by name (file stem), sorted by family then name."""
    root = configs_root()
    if root is None:
        return {}
    found: dict[str, Path] = {}
    for path in sorted(root.rglob("*.yaml"), key=lambda p: (p.parent.name, p.name)):
        found.setdefault(path.stem, path)
    return found


def find_config(name_or_path: str | Path) -> Path:
    """A config file from a path, or from the name of a shipped config (with or without
    ``.yaml``, optionally ``family/name``)."""
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path
    shipped = list_configs()
    stem = path.name[: -len(".yaml")] if path.name.endswith(".yaml") else path.name
    candidate = shipped.get(stem)
    if candidate is not None and (len(path.parts) == 1
                                  or path.parent.name == candidate.parent.name):
        return candidate
    near = [n for n in shipped if stem and (stem in n or n in stem)][:5]
    hint = f"; similar: {', '.join(near)}" if near else "; `posekit configs` lists them"
    raise FileNotFoundError(
        f"config file not found: {name_or_path} (neither a file nor a shipped config name{hint})"
    )


def load_config(path: str | Path, overrides: list[str] | None = None) -> ExperimentConfig:
    """Load a YAML experiment strictly, apply ``overrides``; the name defaults to the file stem.

    ``path`` is a YAML file or the name of a shipped config (see :func:`list_configs`).
    """
    path = find_config(path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: invalid YAML: {exc}") from None
    try:
        cfg = config_from_dict(data)
        if overrides:
            cfg = apply_overrides(cfg, overrides)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path}: {exc}") from None
    if not cfg.name:
        cfg = dataclasses.replace(cfg, name=path.stem)
    return cfg


def _parse_overrides(items: list[str]) -> list[tuple[str, str]]:
    """Accept ``key=value``, ``--key=value`` and ``--key value`` forms."""
    pairs, i = [], 0
    while i < len(items):
        item = items[i]
        key = item[2:] if item.startswith("--") else item
        if "=" in key:
            k, v = key.split("=", 1)
            pairs.append((k, v))
            i += 1
        elif item.startswith("--") and i + 1 < len(items):
            pairs.append((key, items[i + 1]))
            i += 2
        else:
            raise ValueError(f"override {item!r} must be key=value or --key value")
    return pairs


def config_sets(path: str | Path, overrides: list[str] | None, key: str) -> bool:
    """Whether the YAML config ``path`` (file or shipped name) or ``overrides`` give the dotted
    ``key`` explicitly, rather than leaving it at its default."""
    if any(k.removeprefix("--") == key for k, _ in _parse_overrides(list(overrides or []))):
        return True
    try:
        node: Any = yaml.safe_load(find_config(path).read_text()) or {}
    except yaml.YAMLError:
        return False
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def apply_overrides(cfg: ExperimentConfig, overrides: list[str]) -> ExperimentConfig:
    """Return a new config with dotted-key overrides applied (values parsed as YAML scalars)."""
    data = config_to_dict(cfg)
    for key, raw in _parse_overrides(overrides):
        node = data
        parts = key.split(".")
        for part in parts[:-1]:
            if not isinstance(node.get(part), dict):
                raise ValueError(f"unknown config key {key!r}")
            node = node[part]
        if parts[-1] not in node and not (len(parts) > 2 and parts[-2] == "kwargs"):
            raise ValueError(f"unknown config key {key!r}")
        # YAML reads an empty value as null; `key=` (shell: key="") means the empty string.
        node[parts[-1]] = yaml.safe_load(raw) if raw.strip() else ""
    return config_from_dict(data)


def save_config(cfg: ExperimentConfig, path: str | Path) -> None:
    """Write the resolved config as YAML (round-trips through :func:`load_config`)."""
    Path(path).write_text(yaml.safe_dump(config_to_dict(cfg), sort_keys=False))
