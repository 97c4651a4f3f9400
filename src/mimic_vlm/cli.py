"""The `mimic` command: a thin typer app. Each area registers its sub-commands from `commands/`."""

import os
import signal
import sys
import threading
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.text import Text
from typer.core import TyperArgument, TyperOption

from mimic_vlm import threads
from mimic_vlm.commands import (
    annotations,
    data,
    demo,
    evaluate,
    masking,
    probe,
    scoring,
    study,
    suites,
    train,
)
from mimic_vlm.commands.renamed import modernize
from mimic_vlm.errors import MimicError, os_error
from mimic_vlm.terminal import printable

app = typer.Typer(
    name="mimic",
    help="Controlled multi-image benchmarks, evaluation, diagnostics and fine-tuning for VLMs.",
    invoke_without_command=True,  # bare `mimic`: its usage, exit 0 (click's no_args_is_help calls it an error)
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain click help: full option names at 80 columns, no '<bool>' metavars
)

@app.callback()
def _root(ctx: typer.Context,
          version: bool = typer.Option(False, "--version", is_eager=True, help="Print the version and exit.")) -> None:
    if version:
        from mimic_vlm import __version__

        print(__version__)
        raise typer.Exit()
    if ctx.invoked_subcommand is None:
        print(ctx.get_help())
        raise typer.Exit()


# One module per area; each defines `register(app)`. Order = order in `mimic --help`.
for _area in (annotations, data, evaluate, scoring, masking, train, probe, study, suites, demo):
    _area.register(app)


def _say(message: str, label: str = "error", style: str = "bold red") -> None:
    """One plain line on stderr: no rich markup or emoji codes (":x:" in "nosuch:x") may be read into it, and
    no control character from data (an ESC sequence in a sample id)."""
    Console(stderr=True, emoji=False).print(Text(f"{label}: ", style=style) + Text(printable(message)), highlight=False,
                                            soft_wrap=True)


def _note(message: str) -> None:
    _say(message, "note", "yellow")


def usage_line(e: Exception) -> str:
    """A usage error (unknown option, a value out of range) as one line, pointing at the command's help."""
    ctx = getattr(e, "ctx", None)
    hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
    return f"{e.format_message()}{hint}"  # type: ignore[attr-defined]


def named_metavars(command: Any) -> Any:
    """`--count COUNT`, not typer's `--count <int range>`; `BENCH` and `[PATH]`, not `{bench}` and `bench <path>`:
    the placeholder names the value, the help its form."""
    for param in command.params:
        if isinstance(param, TyperOption) and not param.is_flag and param.metavar is None:
            long = max(param.opts, key=len)
            param.metavar = long.lstrip("-").replace("-", "_").upper()
        elif isinstance(param, TyperArgument):
            _plain_argument(param)
    for sub in getattr(command, "commands", {}).values():
        named_metavars(sub)
    return command


def _plain_argument(param: TyperArgument) -> None:
    name = param.metavar or (param.name or "").upper()
    shown = name + ("..." if param.nargs != 1 else "")
    usage = shown if param.required else f"[{shown}]"
    param.get_usage_pieces = lambda ctx: [usage]  # type: ignore[method-assign]
    param._rich_display_name = lambda: shown  # type: ignore[method-assign]
    param.display_type_rich = lambda ctx: ""  # type: ignore[method-assign]


def _terminated(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM (kill, a scheduler's time limit) cleans up and keeps progress as Ctrl-C does


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors become one `error:` line and exit code 2, never a traceback."""
    threads.set_defaults()
    previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        _main(argv)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _exit(code: int) -> NoReturn:
    """Exit with `code`; after an interrupt (130) without waiting for worker threads still blocked in I/O (a
    request in flight held the exit for its whole --timeout): what is kept was written and synced before."""
    stuck = [t for t in threading.enumerate() if t.is_alive() and not t.daemon and t is not threading.current_thread()]
    if code == 130 and stuck:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


def _main(argv: list[str] | None) -> None:
    try:
        command = named_metavars(typer.main.get_command(app))
        args = modernize(sys.argv[1:] if argv is None else list(argv), _note)
        code = command.main(args=args, prog_name="mimic", standalone_mode=False)
        if isinstance(code, int) and code:  # typer.Exit(n) is returned, not raised, in this mode
            if code == 130:  # typer turns Ctrl-C (and SIGTERM, see above) into 130 without a word
                _say("interrupted")
            _exit(code)
    except MimicError as e:
        _say(str(e))
        _exit(e.exit_code)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        _say("interrupted")
        _exit(130)
    except typer.Abort:
        sys.exit(1)
    except typer.TyperException as e:  # usage errors (typer vendors click: its ClickException lives here)
        if not hasattr(e, "format_message"):
            raise
        _say(usage_line(e))
        sys.exit(getattr(e, "exit_code", 2))
    except OSError as e:  # read-only folder, full disk, ...: what was written before stays (atomic writes)
        _say(str(os_error(e)))
        sys.exit(2)


@app.command(hidden=True)
def version() -> None:
    """Print the version."""
    from mimic_vlm import __version__

    print(__version__)
