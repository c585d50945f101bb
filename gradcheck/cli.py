"""The gradcheck command line.

Exit codes: 0 every check passed (or grading completed; for a layer that
refuses part of the space by rules, every check passed where it accepts,
unless --strict), 1 a check failed (with --strict, on a configuration the
layer refused too; or the run reached --timeout), 2 bad usage or bad input, a
layer that cannot be called included (one line on stderr, no traceback).
"""
import ast
import contextlib
import os
import shlex
import signal
import sys
import tempfile

import click


from . import api, generic, kinds, network, report
from .adapters import CONVENTIONS, LAYOUTS, LoadError, load_object
from .checks import METHODS
from .config import parse_range
from .grading import grade as grading
from .grading.course import CourseError, load as load_course
from .grading.layers import grade_layers, parse_layers
from .grading.sandbox import SandboxUnavailable
from .inputs import PRECISIONS
from .strategies import hypothesis_files_in_cache
from .userfiles import Source, find_backward

FORMATS = ("text", "json", "junit")
PROGRESS_AFTER = 2.0  # seconds a run is expected to take before it shows a progress bar
DEFAULT_TIMEOUT = 600.0  # seconds: a default check takes one or two; a layer that loops forever stops here


class BadInput(click.ClickException):
    """Bad input found after parsing (a window that can never fit, a file that does not import): exit 2."""

    exit_code = 2


class TimeLimit(BaseException):
    """--timeout was reached: raised wherever the run is, a BaseException so that neither the layer's own
    ``except Exception`` nor the engine's handling of the layer's errors takes it for the layer's answer."""


class TimedOut(click.ClickException):
    """The run reached --timeout outside a check (importing the layer, or in gradcheck's own work): exit 1."""

    exit_code = 1


@contextlib.contextmanager
def time_limit(seconds):
    """Raise TimeLimit in the main thread once ``seconds`` of wall-clock time have passed (SIGALRM; where there is
    none, no limit)."""
    if not hasattr(signal, "setitimer"):
        yield
        return

    def expire(signum, frame):
        raise TimeLimit(f"the time limit of {seconds:g} s (--timeout) was reached")
    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


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


class Dimension(click.ParamType):
    """An int (both axes), HxW for a pair dimension (e.g. 3x2), or LOW..HIGH (the search keeps to those values,
    on both axes); each at least ``minimum``."""

    def __init__(self, minimum, pair=True):
        self.minimum = minimum
        self.pair = pair
        self.name = "N|HxW|LOW..HIGH" if pair else "N|LOW..HIGH"

    def get_metavar(self, param, ctx=None):
        return self.name

    def convert(self, value, param, ctx):
        if isinstance(value, (int, tuple, range)):  # a default, or a course file's value
            numbers = list(value) if isinstance(value, tuple) else [value]
        elif (span := parse_range(value)) is not None:
            numbers = [span]
        else:
            try:
                numbers = [int(part) for part in value.lower().replace(",", "x").split("x")]
            except ValueError:
                numbers = []
        if len(numbers) not in (1, 1 + self.pair):
            self.fail(f"{value!r} is not {'an int, an HxW pair such as 3x2' if self.pair else 'an int'} or a range "
                      "such as 1..2", param, ctx)
        if isinstance(numbers[0], range) and not numbers[0]:
            self.fail(f"{value!r} holds no value: give the lowest first, as in 1..2", param, ctx)
        if min(number.start if isinstance(number, range) else number for number in numbers) < self.minimum:
            self.fail(f"must be >= {self.minimum}, got {value}", param, ctx)
        return numbers[0] if len(numbers) == 1 else tuple(numbers)


COUNT = click.IntRange(min=1)
SEED = click.option("--seed", type=click.IntRange(min=0),
                    help="Repeat a run exactly. Default: 0 under CI, else random (the report prints it).")


def stack(*decorators):
    """Apply click options in the order --help should show them."""
    def apply(command):
        for decorator in reversed(decorators):
            command = decorator(command)
        return command
    return apply


DIMENSIONS = stack(
    click.option("--kernel", type=Dimension(1), help="Kernel (conv) or pool window: N or KHxKW."),
    click.option("--stride", type=Dimension(1), help="Stride: N or SHxSW."),
    click.option("--pad", type=Dimension(0), help="Zero padding (conv) / padding (pools): N or PHxPW."),
    click.option("--batch", type=Dimension(1, pair=False), help="Batch size N."),
    click.option("--channels", type=Dimension(1, pair=False), help="Input channels C."),
    click.option("--size", type=Dimension(1), help="Input height and width: N or HxW."),
)
CONV_DIMENSIONS = stack(
    click.option("--filters", type=Dimension(1, pair=False), help="Filters F (conv only)."),
    click.option("--dilation", type=Dimension(1), help="Dilation: N or DHxDW (conv only, if the layer takes one)."),
)
SEARCH = stack(
    click.option("--examples", type=COUNT, default=api.DEFAULT_EXAMPLES, show_default=True,
                 help="Configurations to try when some dimension is left free."),
    SEED,
    click.option("--method", type=click.Choice(METHODS), default="auto", show_default=True,
                 help="Finite differences: structured or dense (element by element), projection (a screen along "
                      "random directions; a failed one is localized by group testing); auto picks by cost."),
    click.option("--fast", is_flag=True, help="Shorthand for --method projection."),
    click.option("--precision", type=click.Choice(PRECISIONS), default="float64", show_default=True,
                 help="The dtype gradcheck builds the inputs in and judges at; a layer returning a narrower one "
                      "fails."),
    click.option("--divisible", is_flag=True,
                 help="Draw only configurations whose stride divides H + 2P - KH and W + 2P - KW, for layers that "
                      "refuse the others (as cs231n's fast layers do)."),
)
CONVENTION = click.option(
    "--convention", type=click.Choice(CONVENTIONS), default="auto", show_default=True,
    help="How the layer is written: reference (DLfS class or factory), function (cs231n pair), args (a pair "
         "taking stride and pad as arguments), dive (optimizer in backward), dlai (deeplearning.ai's "
         "conv_forward(A_prev, W, b, hparameters) pair); auto detects.")
LAYOUT = click.option(
    "--layout", type=click.Choice(LAYOUTS, case_sensitive=False), default="auto", show_default=True,
    help="The arrays the layer reads: nchw, or nhwc (channels-last x, W as (KH, KW, C, F) or (F, KH, KW, C)); "
         "auto takes the convention's and confirms it with a probe forward. Reports show shapes and indices in "
         "the layer's layout.")
CHECK_OPTIONS = stack(
    click.option("--impl", metavar="FILE:NAME",
                 help="The layer to check: NAME in FILE. Default: the reference layers check themselves."),
    click.option("--backward", metavar="FILE:NAME",
                 help="The backward of a forward function NAME, when it is not found by its name (forward -> "
                      "backward) in FILE, what FILE imports or FILE's folder; a NAME alone is looked up there."),
    DIMENSIONS, SEARCH, CONVENTION, LAYOUT,
    click.option("--per-axis", is_flag=True, default=None,
                 help="Let stride and pad differ between the axes (always on for the reference layers)."),
    click.option("--strict", is_flag=True,
                 help="Fail a check on any configuration the layer refuses (its own assert or raise). Default: "
                      "when its refusals follow rules, check it where it accepts and say so."),
    click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=DEFAULT_TIMEOUT,
                 show_default=True, metavar="SECONDS",
                 help="Wall-clock seconds the whole run may take (importing the layer included); past it the check "
                      "running fails, where it stopped is reported, and the exit code is 1."),
)


def writable_folder(ctx, param, value):
    """--output FILE: its folder must exist and be writable, checked before anything runs."""
    if value is not None:
        folder = os.path.dirname(os.path.abspath(value))
        if not os.path.isdir(folder):
            raise click.BadParameter(f"the folder {folder} does not exist; create it or write elsewhere", ctx, param)
        if not os.access(folder, os.W_OK | os.X_OK):
            raise click.BadParameter(f"the folder {folder} is not writable; write elsewhere", ctx, param)
    return value


def output_options(formats, help_text=None):
    return stack(
        click.option("--format", "output_format", type=click.Choice(formats), default="text", show_default=True,
                     help=help_text),
        click.option("--output", type=click.Path(dir_okay=False, writable=True), callback=writable_folder,
                     help="Write the report to this file instead of stdout (replacing it whole, at the end)."),
    )


@click.group(cls=OneLineErrors)
@click.version_option(package_name="gradcheck")
def main():
    """Prove or disprove that a layer written in NumPy computes its gradients right.

    Checks a conv or pooling layer, any kind of the catalogue (gradcheck
    list) or any forward/backward pair (gradcheck fn) against finite
    differences and reference layers, on shapes (and strides and padding)
    Hypothesis draws, and shrinks every failure to the smallest
    configuration that shows it.
    """
    hypothesis_files_in_cache()


@main.command()
@CHECK_OPTIONS
@CONV_DIMENSIONS
@output_options(FORMATS)
def conv(**options):
    """Check a Conv2d: NAME(W, b, stride=..., pad=...) with forward(x), backward(dout) -> dx, dW and db."""
    return run("conv", options)


@main.command()
@click.option("--mode", type=click.Choice(["max", "avg"]), required=True, help="Max or average pooling.")
@CHECK_OPTIONS
@output_options(FORMATS)
def pool(mode, **options):
    """Check a MaxPool2d or AvgPool2d: NAME(pool_h, pool_w, stride=..., pad=...), forward, backward."""
    return run(mode + "pool", options)


SYMBOL_SEARCH = stack(  # gradcheck fn and the catalogue's commands
    click.option("--examples", type=COUNT, default=api.DEFAULT_EXAMPLES, show_default=True,
                 help="Configurations to try when some symbol is left free."),
    SEED,
    click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=DEFAULT_TIMEOUT,
                 show_default=True, metavar="SECONDS", help="Wall-clock seconds the whole run may take."),
)


class Assignment(click.ParamType):
    """NAME=VALUE, e.g. x=N,D or N=1..4: a (name, value) pair, the value as text."""

    name = "NAME=VALUE"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        name, sep, text = value.partition("=")
        if not sep or not name.strip() or not text.strip():
            self.fail(f"{value!r} is not NAME=VALUE, e.g. x=N,D or N=1..4", param, ctx)
        return name.strip(), text.strip()


@main.command()
@click.option("--impl", metavar="FILE:NAME", required=True,
              help="The forward function: forward(*inputs) -> out, or (out, cache).")
@click.option("--backward", metavar="FILE:NAME",
              help="Its backward: backward(dout, cache) (or backward(dout, *inputs) when forward returns out alone) "
                   "-> the gradient of every input, in order. Default: NAME with forward -> backward.")
@click.option("--shape", "shapes", type=Assignment(), multiple=True, required=True,
              help="An input of forward, in the order it takes them, and its shape: x=N,D (symbols and ints).")
@click.option("--integers", type=Assignment(), multiple=True,
              help="An input that holds integers below a bound, never differentiated (labels, word indices): "
                   "y=C for 0..C-1. Backward returns no gradient for it.")
@click.option("--booleans", metavar="NAME", multiple=True,
              help="An input that holds True/False (a mask), never differentiated.")
@click.option("--outputs", type=click.IntRange(min=1), default=1, show_default=True,
              help="How many arrays forward returns before its cache (an LSTM step: 2, next_h and next_c); "
                   "backward then takes a dout for each, then the cache.")
@click.option("--dim", "dims", type=Assignment(), multiple=True,
              help="A symbol's value or range: N=3 or N=1..8 (default 1..4).")
@SYMBOL_SEARCH
@output_options(("text", "json"))
def fn(impl, backward, shapes, integers, booleans, outputs, dims, examples, seed, timeout, output_format, output):
    """Check any NumPy forward/backward pair by finite differences: no reference needed."""
    try:
        forward, module = load_object(impl)
        path, _, name = impl.rpartition(":")
        partner = find_backward(forward, name, Source(module, path), backward)
    except (LoadError, ValueError) as error:
        raise BadInput(str(error)) from None
    words = ["fn", "--impl", impl] + (["--backward", backward] if backward else []) + \
        [word for name, axes in shapes for word in ("--shape", f"{name}={axes}")] + \
        [word for name, below in integers for word in ("--integers", f"{name}={below}")] + \
        [word for name in booleans for word in ("--booleans", name)] + \
        (["--outputs", str(outputs)] if outputs > 1 else [])
    result = within_time(timeout, impl, lambda: generic.check_function(
        forward, partner.function, dict(shapes), dict(dims), integers=dict(integers), booleans=booleans,
        outputs=outputs, examples=examples, seed=seed, words=words))
    write_function_report(result, output_format, output)
    return 0 if result.passed else 1


def within_time(timeout, impl, run):
    """``run()`` under --timeout: a ValueError is bad input (exit 2), the time limit one line (exit 1)."""
    try:
        with time_limit(timeout):
            return run()
    except ValueError as error:
        raise BadInput(str(error)) from None
    except TimeLimit as limit:
        raise TimedOut(f"{limit} while {impl} was checked: does it loop?") from None


def write_function_report(result, output_format, output):
    write_output(output, {
        "json": lambda stream: stream.write(report.to_json(result) + "\n"),
        "text": lambda stream: report.render_function_text(result, report.make_console(stream)),
    }[output_format])


@main.command(name="list")
def list_kinds():
    """Print the catalogue of layer kinds gradcheck checks, with their reference formulations."""
    rows = [(kind.name, kind.summary, ", ".join(cls.__name__ for cls in kind.formulations))
            for kind in kinds.catalogue().values()]
    report.render_rows(("kind", "computes", "reference formulations"), rows, report.make_console())
    return 0


def kind_command(kind):
    """The command ``gradcheck KIND``: a user's layer of a catalogue kind against its reference."""
    @click.option("--impl", metavar="FILE:NAME", required=True, help=f"The layer: {kind.form.described()}.")
    @click.option("--backward", metavar="FILE:NAME", help="A forward function's backward, when not found by its name.")
    @click.option("--dim", "dims", type=Assignment(), multiple=True,
                  help="A symbol's value or range (default: " + ", ".join(
                      f"{symbol} {low}..{high}" for symbol, (low, high) in kinds.symbols(kind).items()) + ").")
    @SYMBOL_SEARCH
    @output_options(("text", "json"))
    def command(impl, backward, dims, examples, seed, timeout, output_format, output):
        words = [kind.name, "--impl", impl] + (["--backward", backward] if backward else [])
        try:
            layer, module = load_object(impl)
            source = Source(module, impl.rpartition(":")[0])
            result = within_time(timeout, impl, lambda: kinds.check_kind(
                kind, layer, backward=backward, source=source, dims=dict(dims), examples=examples, seed=seed,
                words=words))
        except LoadError as error:
            raise BadInput(str(error)) from None
        write_function_report(result, output_format, output)
        return 0 if result.passed else 1
    command.__doc__ = f"Check a layer of kind {kind.name} against its reference: {kind.summary}."
    return main.command(name=kind.name)(command)


for _kind in kinds.catalogue().values():
    if isinstance(_kind, kinds.Kind):  # conv's and the pools' are `gradcheck conv` and `gradcheck pool`
        kind_command(_kind)


class Shape(click.ParamType):
    """N,D or NxCxHxW: a tuple of positive ints."""

    name = "N,D,..."

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        try:
            shape = tuple(int(part) for part in value.lower().replace("x", ",").split(","))
        except ValueError:
            self.fail(f"{value!r} is not a shape such as 4,10 or 2x3x8x8", param, ctx)
        if min(shape) < 1:
            self.fail(f"every axis of a shape has at least 1 element, got {value}", param, ctx)
        return shape


def _literal(value):
    """``value`` as --arg takes it back: text as it is, anything else as a Python literal."""
    return value if isinstance(value, str) else repr(value)


class KeywordArgument(click.ParamType):
    """NAME=VALUE: (NAME, the value as a Python literal, or the text when it is none)."""

    name = "NAME=VALUE"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        name, sep, text = value.partition("=")
        if not sep or not name.strip().isidentifier():
            self.fail(f"{value!r} is not NAME=VALUE, e.g. hidden_dim=10", param, ctx)
        try:
            return name.strip(), ast.literal_eval(text.strip())
        except (ValueError, SyntaxError):
            return name.strip(), text.strip()


@main.command()
@click.option("--impl", metavar="FILE:NAME", required=True,
              help="The network: a list or dict of layers with forward(x) and backward(dout), an object holding one "
                   "as .layers, a model with params and its loss's gradient (cs231n: loss(X, y) -> (loss, grads); "
                   "DLFS: gradient(x, t)), or a class or function that makes one.")
@click.option("--input", "input_shape", type=Shape(), required=True, help="The shape of the input x: N,D or N,C,H,W.")
@click.option("--arg", "arguments", type=KeywordArgument(), multiple=True,
              help="A keyword argument of the class or function that makes the network, e.g. --arg hidden_dim=10 "
                   "(a Python literal, else text); repeat it for each. Where it takes them and none is given: "
                   "input_dim or input_size from --input, dtype float64, reg or weight_decay_lambda 0.1.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="The seed of x, dout, the labels and the weights the network draws.")
@output_options(("text", "json"))
def net(impl, input_shape, arguments, seed, output_format, output):
    """Check every layer of a network in place, on the activation it receives, and name the first wrong one; check
    the gradient of a network's loss in each of its parameters, and say what that tells of where the error is."""
    try:
        made, _ = load_object(impl)
    except LoadError as error:
        raise BadInput(str(error)) from None
    try:
        if network.is_maker(made):
            network_object, built = network.build(made, input_shape, dict(arguments), seed)
        elif arguments:
            raise ValueError(f"--arg is for a class or function that makes the network; {impl} is a network")
        else:
            network_object, built = made, ""
        result = network.check_network(network_object, input_shape, seed, spec=impl)
    except (ValueError, generic.UserError) as error:
        raise BadInput(str(error)) from None
    result.built = built
    given = [word for name, value in arguments for word in ("--arg", f"{name}={_literal(value)}")]
    result.reproduce = shlex.join(["gradcheck", "net", "--impl", impl, "--input", ",".join(map(str, input_shape)),
                                   *given, "--seed", str(seed)])
    write_output(output, {
        "json": lambda stream: stream.write(report.to_json(result) + "\n"),
        "text": lambda stream: report.render_network_text(result, report.make_console(stream)),
    }[output_format])
    return 0 if result.passed else 1


GRADE_FORMATS = ("text", "json", "csv", "gradescope", "classroom", "junit", "html")
ONE_SUBMISSION = {"gradescope": "Gradescope runs one at a time", "classroom": "GitHub Classroom grades one repository"}


class Points(click.ParamType):
    """A score: a number of points, or "full" for full marks."""

    name = "POINTS|full"

    def convert(self, value, param, ctx):
        if isinstance(value, int) or value == "full":
            return value
        try:
            points = int(value)
        except ValueError:
            self.fail(f"{value!r} is neither a number of points nor 'full'", param, ctx)
        if points < 0:
            self.fail(f"must be >= 0, got {value}", param, ctx)
        return points


def course_file(ctx, param, value):
    """--course FILE: the course file's options become the command's defaults (what the command line gives wins);
    the Course, or None."""
    if value is None:
        return None
    try:
        course = load_course(value)
    except CourseError as error:
        raise BadInput(str(error)) from None
    params = {param.name: param for param in ctx.command.params}
    for name, given in course.options.items():
        if name not in params:
            raise BadInput(f"{value}: {name} is not an option of gradcheck {ctx.command.name}")
        try:
            params[name].type_cast_value(ctx, given)
        except click.BadParameter as error:
            raise BadInput(f"{value}: {name}: {error.message}") from None
    ctx.default_map = {**(ctx.default_map or {}), **course.options}
    return course


GRADING = stack(
    click.option("--course", type=click.Path(exists=True, dir_okay=False), callback=course_file, is_eager=True,
                 metavar="FILE",
                 help="A course file (TOML): options by name, the [geometry] every submission is graded on, "
                      "[points] per check and Gradescope's [visibility] per check. The command line wins over it."),
    click.option("--layer", type=click.Choice([*kinds.catalogue()]),
                 help="The layer every submission implements: conv or a pooling layer, or a kind of "
                      "`gradcheck list`.  [required unless --layers]"),
    click.option("--impl", metavar="NAME",
                 help="What every submission defines: a class, a factory or a cs231n forward function.  [required "
                      "with --layer]"),
    click.option("--layers", metavar="KIND[=NAME],...",
                 help="Instead of --layer and --impl: several kinds of `gradcheck list` every submission defines, "
                      "each graded as --layer KIND --impl NAME would (NAME: as cs231n names it, affine_forward or "
                      "softmax_loss, unless given), their checks named KIND.CHECK."),
    click.option("--backward", metavar="NAME",
                 help="The backward of forward function NAME in every submission, when not found by its name."),
    CONVENTION, LAYOUT, DIMENSIONS, CONV_DIMENSIONS, SEARCH,
    click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=60.0, show_default=True,
                 metavar="SECONDS", help="Wall-clock seconds each submission's code may run in total (import and "
                                         "every call); also its CPU-time limit. Past it the submission is killed."),
    click.option("--memory", type=click.IntRange(min=64), default=2048, show_default=True, metavar="MB",
                 help="Address space each submission may use (RLIMIT_AS; BLAS runs one thread)."),
    click.option("--partial-credit", is_flag=True,
                 help="A failed check earns its points times the share of the configurations searched that it "
                      "passed on (none when the submission's run stopped early). [default: all or nothing]"),
)
HIDE_HINTS = click.option(
    "--hide-hints-until-due", "hide_hints", is_flag=True,
    help="Gradescope: show where a check fails, its hints and reproduction command only after the due date "
         "(visibility after_due_date); scores stay visible.")
SHOW_ONE = click.option(
    "--show-one-failure", "show_one_failure", is_flag=True,
    help="With --hide-hints-until-due: before the due date, show one smallest failing configuration (of a "
         "visible check) and the command that checks it alone; the run's seed, the other configurations and "
         "the hints stay until after it.")


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True), metavar="PATH...")
@GRADING
@click.option("--workers", type=COUNT, metavar="N",
              help="Submissions graded at once.  [default: the number of CPUs]")
@click.option("--sandbox", type=click.Choice(grading.SANDBOXES), default="bwrap", show_default=True,
              help="bwrap: isolate every submission (Linux with unprivileged user namespaces). user: run each as "
                   "an unprivileged user of its own (Linux, as root). auto: bwrap where it can run here, else "
                   "user, and the reports say why. none: plain child processes with the same limits, not "
                   "isolated; every report says so.")
@output_options(GRADE_FORMATS, "gradescope writes Gradescope's results.json, classroom GitHub Classroom's "
                                "autograding result, each for exactly one PATH; html a page for the instructor.")
@HIDE_HINTS
@SHOW_ONE
@click.option("--fail-under", type=Points(), metavar="POINTS|full",
              help="Exit 1 when a submission scored below POINTS (full: below full marks), so that a grader that "
                   "reads exit codes scores it.  [default: exit 0 whatever the scores]")
def grade(paths, course, layer, impl, layers, output_format, output, hide_hints, show_one_failure, fail_under,
          **options):
    """Grade student submissions: each PATH is a .py file or a folder holding one.

    Every submission is fuzzed with the same seed, in a child process of its
    own, isolated by bwrap, with a time, CPU and memory limit, its output
    captured; verdicts are reached outside it.  One point per check passed
    (or the course file's [points]).
    Exit 0 once grading completed (whatever the verdicts, unless
    --fail-under), 1 when --fail-under is not met, 2 on bad usage or when the
    sandbox cannot run here.
    """
    if output_format in ONE_SUBMISSION and len(paths) != 1:
        raise BadInput(f"--format {output_format} grades exactly one submission ({ONE_SUBMISSION[output_format]}); "
                       f"got {len(paths)} PATHs")
    require_hidden_hints(show_one_failure, hide_hints)
    if hide_hints and output_format != "gradescope":
        if from_course("hide_hints"):  # a course file's, for its Gradescope runs: no other format hides anything
            hide_hints = show_one_failure = False
        else:
            raise BadInput("--hide-hints-until-due is for --format gradescope (Gradescope shows tests after the due "
                           f"date); got --format {output_format}")
    several = graded_layers(layer, impl, layers)
    visibility = course_visibility(course, ",".join(several) if several else layer, output_format)
    try:
        with grade_progress() as progress:
            result = grade_layers(paths, several or {layer: impl}, progress=progress, points=course and course.points,
                                  geometry=course and course.geometry, **options)
    except (ValueError, TypeError, SandboxUnavailable) as error:
        raise BadInput(str(error)) from None
    write_output(output, {
        "json": lambda stream: stream.write(report.grade_to_json(result) + "\n"),
        "csv": lambda stream: stream.write(report.grade_to_csv(result)),
        "junit": lambda stream: stream.write(report.grade_to_junit(result)),
        "html": lambda stream: stream.write(report.grade_to_html(result)),
        "gradescope": lambda stream: stream.write(report.grade_to_gradescope(result.submissions[0], result,
                                                                             hide_hints, visibility,
                                                                             show_one_failure)),
        "classroom": lambda stream: stream.write(report.grade_to_classroom(result.submissions[0], result)),
        "text": lambda stream: report.render_grade_text(result, report.make_console(stream)),
    }[output_format])
    return 0 if fail_under is None else below(result.submissions, fail_under)


def graded_layers(layer, impl, layers):
    """{kind: NAME} of ``--layers``, or None for ``--layer`` and ``--impl``; BadInput unless exactly one way is
    given."""
    if layers is None:
        if layer is None or impl is None:
            raise BadInput(f"give the layer every submission implements: --layer and --impl (missing "
                           f"{'--layer' if layer is None else '--impl'}), or --layers KIND[=NAME],...")
        return None
    if layer is not None or impl is not None:
        raise BadInput("--layers names every layer and its NAME: drop --layer and --impl")
    try:
        return parse_layers(layers)
    except ValueError as error:
        raise BadInput(str(error)) from None


def require_hidden_hints(show_one, hide_hints):
    if show_one and not hide_hints:
        raise BadInput("--show-one-failure shows before the due date one failure of what --hide-hints-until-due "
                       "holds back until then: add --hide-hints-until-due (without it everything is shown)")


def from_course(name):
    """Whether option ``name`` of the running command took its value from a --course file."""
    return click.get_current_context().get_parameter_source(name) == click.core.ParameterSource.DEFAULT_MAP


def course_visibility(course, layer, output_format):
    """The course file's [visibility] per check ({} without one), validated for ``layer``; only Gradescope can
    hold a test back, so another format refuses a check that is not visible."""
    if course is None:
        return {}
    try:
        visibility = course.for_layer(layer).visibility
    except CourseError as error:
        raise BadInput(str(error)) from None
    unseen = [name for name, shown in visibility.items() if shown != "visible"]
    if unseen and output_format == "classroom":
        raise BadInput(f"{course.path}: [visibility] holds back {', '.join(unseen)}, but GitHub Classroom shows a "
                       "student every test of their own repository's run: grade with --format gradescope, or make "
                       "every check visible")
    return visibility


def below(submissions, fail_under):
    """1, saying how many on stderr, when a submission scored below ``fail_under`` points ("full": full marks)."""
    under = [s for s in submissions if s.score < (s.max_score if fail_under == "full" else fail_under)]
    if not under:
        return 0
    bar = "full marks" if fail_under == "full" else f"{fail_under} points"
    click.echo(f"gradcheck: {len(under)} of {len(submissions)} submissions scored below {bar} (--fail-under "
               f"{fail_under}): {', '.join(s.name for s in under)}", err=True)
    return 1


@main.command()
@GRADING
@click.option("--sandbox", type=click.Choice(["auto", "none"]), default="auto", show_default=True,
              help="auto: grade under bwrap where Gradescope's container allows it, else without (the results "
                   "say which). none: never try.")
@HIDE_HINTS
@SHOW_ONE
@click.option("--per-student-seeds", "per_student", is_flag=True,
              help="Give every submission a seed of its own, derived from a secret made now and kept in the bundle "
                   "and from its students' Gradescope ids: no two students share hidden configurations (with "
                   "--hide-hints-until-due, no student can rerun the search before the due date).")
@click.option("--output", type=click.Path(dir_okay=False, writable=True), callback=writable_folder,
              default="autograder.zip", show_default=True, help="The bundle to write (replaced whole, at the end).")
def autograder(output, course, layer, impl, layers, hide_hints, show_one_failure, per_student, **options):
    """Write a Gradescope autograder bundle that grades every submission with these options.

    The zip holds setup.sh (installs Python 3 and this very gradcheck, from
    a wheel in the zip), run_autograder (grades /autograder/submission/ with
    the options and seed frozen here, as an unprivileged user, and writes
    /autograder/results/results.json) and a README for the instructor.
    Without --seed a seed is chosen now, printed and frozen.  A --course
    file goes into the bundle: its points and visibility apply there.
    """
    from .grading import autograder as bundle

    try:
        require_hidden_hints(show_one_failure, hide_hints)
        made = bundle.build(graded_layers(layer, impl, layers) or {layer: impl}, course=course, hide_hints=hide_hints,
                            show_one=show_one_failure, per_student=per_student, **options)
    except (ValueError, TypeError, bundle.BundleError) as error:
        raise BadInput(str(error)) from None
    write_output(output, lambda stream: stream.write(made.data), binary=True)
    click.echo(f"wrote {output}: {made.summary()}")
    return 0


@contextlib.contextmanager
def grade_progress():
    """progress(done, total, submission) drawing a bar with pass counts on stderr when it is a terminal,
    redrawn as submissions finish."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.progress import Progress

    passed = 0
    with Progress(console=report.make_console(sys.stderr), transient=True, auto_refresh=False) as bar:
        task = bar.add_task("grading", total=None)

        def progress(done, total, submission):
            nonlocal passed
            passed += bool(submission.passed)
            bar.update(task, completed=done, total=total, description=f"grading: {passed} of {done} passed",
                       refresh=True)
        yield progress


def run(layer, options):
    output_format, output, timeout = options.pop("output_format"), options.pop("output"), options.pop("timeout")
    with time_limit(timeout):
        result = check(layer, options)
    write_report(result, output_format, output)
    return 0 if result.passed else 1


def check(layer, options):
    """The Report of ``gradcheck.plan(layer, **options).run()``: a TimeLimit in a check stops the run there;
    anywhere else it ends the command (TimedOut)."""
    impl = options.pop("impl")
    try:
        plan = api.plan(layer, impl, stop_on=(TimeLimit,), **options)
    except (ValueError, TypeError, LoadError) as error:
        raise BadInput(str(error)) from None
    except TimeLimit as limit:
        raise TimedOut(f"{limit} while {impl} was imported (or probed): does it run at import, or loop?") from None
    try:
        with progress_bar("checking", plan.expected_seconds()) as progress:
            return plan.run(progress, stop_on=(TimeLimit,))
    except TimeLimit as limit:
        raise TimedOut(f"{limit} in gradcheck's own work, outside the layer's checks: raise --timeout, or pin a "
                       "smaller configuration") from None


def write_report(result, output_format, output):
    write_output(output, {
        "json": lambda stream: stream.write(report.to_json(result) + "\n"),
        "junit": lambda stream: stream.write(report.to_junit(result)),
        "text": lambda stream: report.render_text(result, report.make_console(stream)),
    }[output_format])


def write_output(output, write, binary=False):
    """Call ``write(stream)`` with stdout, or write ``output`` whole: into a temporary file next to it that then
    replaces it, so that no reader ever sees half a report (nor anything but this one).  ``binary``: the
    stream takes bytes."""
    if not output:
        write(sys.stdout.buffer if binary else sys.stdout)
        return
    umask = os.umask(0)
    os.umask(umask)
    stream = tempfile.NamedTemporaryFile("wb" if binary else "w", encoding=None if binary else "utf-8",
                                         dir=os.path.dirname(os.path.abspath(output)),
                                         prefix=f".{os.path.basename(output)}.", suffix=".tmp", delete=False)
    try:
        with stream:
            write(stream)
        os.chmod(stream.name, 0o666 & ~umask)
        os.replace(stream.name, output)
    except BaseException:
        os.unlink(stream.name)
        raise


@contextlib.contextmanager
def progress_bar(description, expected_seconds):
    """A progress(done, total) callback drawing a bar on stderr, when stderr is a terminal and the run is
    expected to take more than PROGRESS_AFTER seconds; the spinner and the elapsed time keep moving while
    one configuration is checked."""
    if not sys.stderr.isatty() or expected_seconds <= PROGRESS_AFTER:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("configurations"), TimeElapsedColumn())
    with Progress(*columns, console=report.make_console(sys.stderr), transient=True) as bar:
        task = bar.add_task(description, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)
