"""The `mimic` command: a thin typer app. Each area registers its sub-commands from `commands/`."""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.text import Text

from mimic_vlm.commands import annotations, data, demo, evaluate, masking, probe, scoring, suites, train
from mimic_vlm.errors import MimicError

app = typer.Typer(
    name="mimic",
    help="Controlled multi-image benchmarks, evaluation, diagnostics and fine-tuning for VLMs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# One module per area; each defines `register(app)`. Order = order in `mimic --help`.
for _area in (annotations, data, evaluate, scoring, masking, train, probe, suites, demo):
    _area.register(app)


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors become one `error:` line and exit code 2, never a traceback."""
    try:
        code = app(args=argv, standalone_mode=False)
        if isinstance(code, int) and code:  # typer.Exit(n) is returned, not raised, in this mode
            sys.exit(code)
    except MimicError as e:
        # The message is plain text: no rich markup or emoji codes (":x:" in "nosuch:x") may be read into it.
        Console(stderr=True, emoji=False).print(Text("error: ", style="bold red") + Text(str(e)), highlight=False,
                                                soft_wrap=True)
        sys.exit(e.exit_code)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        sys.exit(130)
    except typer.Abort:
        sys.exit(1)
    except typer.TyperException as e:  # usage errors (typer vendors click: its ClickException lives here)
        show = getattr(e, "show", None)
        if show is None:
            raise
        show()
        sys.exit(getattr(e, "exit_code", 2))


@app.command(hidden=True)
def version() -> None:
    """Print the version."""
    from mimic_vlm import __version__

    print(__version__)
