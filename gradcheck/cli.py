"""The gradcheck command line.

Exit codes: 0 every check passed (or grading completed), 1 a check failed,
2 bad usage or bad input (one line on stderr, no traceback).
"""
import contextlib
import sys

import click

from . import api, report
from .adapters import CONVENTIONS, LoadError

FORMATS = ("text", "json", "junit")


class BadInput(click.ClickException):
    """Bad input found after parsing (a window that can never fit, a file that does not import): exit 2."""

    exit_code = 2


class OneLineErrors(click.Group):
    """A click group whose usage errors are one line on stderr, never a usage dump or a traceback."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as error:
            click.echo(error.ctx.get_help(), err=True)
            code = error.exit_code
        except click.ClickException as error:
            click.echo(f"gradcheck: error: {error.format_message()}", err=True)
            code = error.exit_code
        except click.Abort:
            click.echo("gradcheck: aborted", err=True)
            code = 1
        if standalone_mode:
            sys.exit(code or 0)
        return code


class Pair(click.ParamType):
    """An int (both axes) or HxW, e.g. 3 or 3x2; each at least ``minimum``."""

    name = "N|HxW"

    def __init__(self, minimum):
        self.minimum = minimum

    def get_metavar(self, param, ctx=None):
        return "N|HxW"

    def convert(self, value, param, ctx):
        if isinstance(value, (int, tuple)):
            return value
        parts = value.lower().replace(",", "x").split("x")
        try:
            numbers = [int(part) for part in parts]
        except ValueError:
            self.fail(f"{value!r} is not an int or an HxW pair such as 3x2", param, ctx)
        if len(numbers) not in (1, 2):
            self.fail(f"{value!r} is not an int or an HxW pair such as 3x2", param, ctx)
        if min(numbers) < self.minimum:
            self.fail(f"must be >= {self.minimum}, got {value}", param, ctx)
        return numbers[0] if len(numbers) == 1 else tuple(numbers)


COUNT = click.IntRange(min=1)


def common_options(command):
    """Options shared by conv and pool, in the order --help shows them."""
    options = [
        click.option("--impl", metavar="FILE:NAME",
                     help="The layer to check: class NAME in FILE. Default: the reference layers check themselves."),
        click.option("--kernel", type=Pair(1), help="Kernel (conv) or pool window: N or KHxKW."),
        click.option("--stride", type=Pair(1), help="Stride: N or SHxSW. Pools: defaults to --kernel if given."),
        click.option("--pad", type=Pair(0), help="Zero padding (conv) / padding (pools): N or PHxPW."),
        click.option("--batch", type=COUNT, help="Batch size N."),
        click.option("--channels", type=COUNT, help="Input channels C."),
        click.option("--size", type=Pair(1), help="Input height and width: N or HxW."),
        click.option("--examples", type=COUNT, default=api.DEFAULT_EXAMPLES, show_default=True,
                     help="Configurations to try when some dimension is left free."),
        click.option("--seed", type=click.IntRange(min=0),
                     help="Repeat a run exactly. Default: 0 under CI, else random (the report prints it)."),
        click.option("--fast", is_flag=True, help="Screen gradients along random directions first; "
                                                   "localize element by element only on failure."),
        click.option("--convention", type=click.Choice(CONVENTIONS), default="auto", show_default=True,
                     help="How --impl is written: reference (DLfS class), function (cs231n pair), dive "
                          "(optimizer in backward); auto detects."),
        click.option("--per-axis", is_flag=True, default=None,
                     help="Let stride and pad differ between the axes (always on for the reference layers)."),
        click.option("--format", "output_format", type=click.Choice(FORMATS), default="text", show_default=True),
        click.option("--output", type=click.Path(dir_okay=False, writable=True),
                     help="Write the report to this file instead of stdout."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@click.group(cls=OneLineErrors)
@click.version_option(package_name="gradcheck")
def main():
    """Prove or disprove that a NumPy conv or pooling layer computes its gradients right.

    Checks forward, dX, dW and dB against finite differences and the
    reference layers on Hypothesis-fuzzed shapes, strides and padding, and
    shrinks every failure to the smallest configuration that shows it.
    """


@main.command()
@common_options
@click.option("--filters", type=COUNT, help="Filters F (output channels).")
@click.option("--dilation", type=Pair(1), help="Dilation: N or DHxDW (if the layer takes one).")
def conv(**options):
    """Check a Conv2d: NAME(W, b, stride=..., pad=...) with forward(x), backward(dout) -> dx, dW and db."""
    return run("conv", options)


@main.command()
@click.option("--mode", type=click.Choice(["max", "avg"]), required=True, help="Max or average pooling.")
@common_options
def pool(mode, **options):
    """Check a MaxPool2d or AvgPool2d: NAME(pool_h, pool_w, stride=..., pad=...), forward, backward."""
    return run(mode + "pool", options)


def run(layer, options):
    output_format, output = options.pop("output_format"), options.pop("output")
    try:
        plan = api.plan(layer, options.pop("impl"), **options)
    except (ValueError, TypeError, LoadError) as error:
        raise BadInput(str(error)) from None
    with progress_bar("checking") as progress:
        result = plan.run(progress)
    write_report(result, output_format, output)
    return 0 if result.passed else 1


def write_report(result, output_format, output):
    with (open(output, "w", encoding="utf-8") if output else contextlib.nullcontext(sys.stdout)) as stream:
        if output_format == "json":
            stream.write(report.to_json(result) + "\n")
        elif output_format == "junit":
            stream.write(report.to_junit(result))
        else:
            report.render_text(result, report.make_console(stream, color=None if stream is sys.stdout else False))


@contextlib.contextmanager
def progress_bar(description):
    """A progress(done, total) callback drawing a bar on stderr when stderr is a terminal."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.progress import Progress

    with Progress(console=report.make_console(sys.stderr), transient=True) as bar:
        task = bar.add_task(description, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)
