"""`mimic train --accelerate-config`: the run re-launched under `accelerate launch` (one device, DDP,
DeepSpeed ZeRO-2/3, FSDP2), with a shipped config by name or a user's YAML, checked before handing over."""

from __future__ import annotations

from pathlib import Path

from mimic_vlm.errors import MimicError, cannot_read

ACCELERATE_CONFIGS = ("single_gpu", "multi_gpu", "zero2", "zero3", "fsdp2")
CHILD_ENV = "MIMIC_TRAIN_LAUNCHED"


NEEDS = {"zero2": "deepspeed", "zero3": "deepspeed"}
"""Shipped configs that need a package beyond accelerate."""


def check_launcher(name: str) -> None:
    """A config whose engine is not installed (DeepSpeed for zero2/zero3) is refused before anything is
    launched, saying what to install (the launched process would die in a traceback)."""
    import importlib.util

    for package in ("accelerate", NEEDS.get(name)):
        if package and importlib.util.find_spec(package) is None:
            raise MimicError(f"--accelerate-config {name}: needs the {package} package, which is not installed "
                             f"(pip install {package})")


def accelerate_config_path(name: str) -> Path:
    """A shipped config by name (`zero2`, ...) or a user's accelerate YAML file."""
    if name in ACCELERATE_CONFIGS:
        return Path(__file__).resolve().parents[1] / "configs" / "accelerate" / f"{name}.yaml"
    if Path(name).is_file():
        check_accelerate_yaml(Path(name))
        return Path(name)
    raise MimicError(f"--accelerate-config {name}: neither a shipped config ({', '.join(ACCELERATE_CONFIGS)}) "
                     "nor a YAML file")


def check_accelerate_yaml(path: Path) -> None:
    """A user's accelerate config must be a YAML (or JSON) mapping: accelerate reads anything else deep inside
    its launcher and dies there with an AttributeError, after this process has handed over."""
    import yaml

    try:
        value = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError) as e:
        raise cannot_read(e, f"--accelerate-config {path}") from None
    except yaml.YAMLError as e:
        where = getattr(e, "problem_mark", None)
        at = f" at line {where.line + 1}" if where is not None else ""
        raise MimicError(f"--accelerate-config {path}: invalid YAML{at}") from None
    if not isinstance(value, dict):
        kind = "empty" if value is None else f"a {type(value).__name__}"
        raise MimicError(f"--accelerate-config {path}: an accelerate config must be a mapping of settings "
                         f"(compute_environment, distributed_type, ...), not {kind}")
    from accelerate.utils import DistributedType

    kinds = [d.value for d in DistributedType]
    if str(value.get("distributed_type")) not in kinds:
        raise MimicError(f"--accelerate-config {path}: distributed_type {value.get('distributed_type')!r}: "
                         f"expected one of {', '.join(kinds)}")
    for key in ("num_processes", "num_machines"):
        n = value.get(key, 1)
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise MimicError(f"--accelerate-config {path}: {key} {n!r}: expected a positive integer")


def launch_command(config: Path, train_args: list[str], num_processes: int | None = None) -> list[str]:
    """`accelerate launch --config_file CONFIG -m mimic_vlm train ARGS` with this interpreter."""
    import sys

    procs = ["--num_processes", str(num_processes)] if num_processes else []
    return [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(config), *procs,
            "-m", "mimic_vlm", "train", *train_args]


def strip_options(argv: list[str], options: tuple[str, ...]) -> list[str]:
    """`argv` without the given value-taking options (`--opt V` and `--opt=V` forms)."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a in options:
            skip = True
        elif not a.startswith(tuple(o + "=" for o in options)):
            out.append(a)
    return out


def check_num_processes(num_processes: int | None, accelerate_config: str | None) -> None:
    if num_processes is not None and not accelerate_config:
        raise MimicError(f"--num-processes {num_processes}: only with --accelerate-config (it sets the processes "
                         "of the launch it makes); without it, launch with torchrun --nproc_per_node N")


def relaunch(accelerate_config: str, num_processes: int | None, argv: list[str]) -> int:
    """Run this `mimic ... train ARGS` command line again under `accelerate launch` and return its exit code (the
    options that asked for the launch are left out of the child's); the config is checked first."""
    import os
    import subprocess

    from rich.console import Console

    config = accelerate_config_path(accelerate_config)
    check_launcher(accelerate_config)  # a missing engine fails here, before launching
    train_args = argv[argv.index("train") + 1:]
    cmd = launch_command(config, strip_options(train_args, ("--accelerate-config", "--num-processes")), num_processes)
    Console(stderr=True).print(f"[dim]$ {' '.join(cmd)}[/]", highlight=False)
    return subprocess.call(cmd, env={**os.environ, CHILD_ENV: "1"})
