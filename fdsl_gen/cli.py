"""fdsl-gen: one command per dataset family, built from the family's declarations, plus
verify, info, preview and recipes. Options and errors only."""
import json
import os
import sys

import click

from . import __version__
from .engines.base import create_engine
from .errors import GenerationError, UsageError
from .families import family_names, get_family

SHARD_SIZE = 1000  # samples per shard unless --shard-size says otherwise
CLICK_TYPES = {int: click.INT, float: click.FLOAT, str: click.STRING}


def family_option(option):
    """The click option of a family ``Option``. Its default stays None ("not given"), so a
    recipe can fill it and the family's ``configure`` applies the declared default."""
    if option.type is bool:
        return click.Option([option.flag], is_flag=True, default=None, help=option.help_text())
    metavar = "[" + "|".join(map(str, option.choices)) + "]" if option.choices else None
    return click.Option([option.flag], type=CLICK_TYPES[option.type], default=None, metavar=metavar,
                        help=option.help_text())


def engine_options():
    """Options of the engine that runs the tasks (generation and verify alike)."""
    return [
        click.Option(["--workers"], type=int, help="Worker processes; with --engine ray the CPUs of the local Ray it "
                                                   "starts, or with --ray-address the tasks run at once. "
                                                   "[default: all cores, or the cluster's CPUs]"),
        click.Option(["--engine"], type=click.Choice(["local", "ray"]), default="local",
                     help="Run the tasks on this machine's processes, or as Ray tasks on a Ray cluster "
                          "(pip install 'fdsl[ray]'). [default: local]"),
        click.Option(["--ray-address"], metavar="auto|HOST:PORT",
                     help="The Ray cluster to use: auto (the one this machine belongs to) or its head's "
                          "HOST:PORT. [default: start a local Ray]"),
        click.Option(["--retries"], type=int, default=1, help="Times a failed task is run again. [default: 1]"),
    ]


def run_options(family):
    """Options that shape the run but not the dataset's configuration."""
    options = [
        click.Option(["--out"], required=True, type=click.Path(file_okay=False), metavar="DIR|URL",
                     help="Output folder for shards and manifest, or an fsspec URL (s3://bucket/prefix, gs://...)."),
        click.Option(["--recipe"], help="A published recipe by name (fdsl-gen recipes lists them) or a JSON file of "
                                        "options (keys as option names); flags given on the command line win."),
        click.Option(["--name"], help=f"Shard name prefix: NAME-000000.tar. [default: {family.name}]"),
        click.Option(["--shard-size"], type=int, help=f"Samples per shard (whole render groups). [default: {SHARD_SIZE}]"),
        *engine_options(),
        click.Option(["--num-nodes"], type=int, default=1,
                     help="Split the shards over N machines rendering into one --out. [default: 1]"),
        click.Option(["--node-rank"], type=int, default=0,
                     help="This machine's rank R in [0, N): it renders the shards i with i % N == R; then "
                          "fdsl-gen finalize OUT. [default: 0]"),
        click.Option(["--overwrite"], is_flag=True, help="Replace an existing dataset in --out instead of resuming it."),
        click.Option(["--quiet"], is_flag=True, help="No progress bars."),
    ]
    options.insert(1, click.Option(["--search-only"], is_flag=True,
                                   help="Write the manifest (configuration and class table) and no images: "
                                        "enough to render the set later, or in the loader (render:PATH)."))
    return options


RUN_ONLY = {"out", "recipe", "workers", "engine", "ray_address", "retries", "num_nodes", "node_rank", "overwrite",
            "quiet", "search_only"}  # never taken from a recipe
OUTPUT_OPTIONS = {"name", "shard_size"}  # shape the output, but are not the family's configuration


def family_command(family):
    def callback(**options):
        run_generation(family, options)

    params = [family_option(option) for option in family.options] + run_options(family)
    return click.Command(family.name, callback=callback, params=params, help=family.help)


def load_recipe(family, recipe):
    """The options of ``recipe``: a name of one of the family's published recipes, or the
    path of a JSON file."""
    if recipe in family.recipes:
        return dict(family.recipes[recipe])
    if not os.path.exists(recipe):
        known = ", ".join(family.recipes) or "none"
        raise UsageError(f"--recipe {recipe} is neither a published {family.name} recipe ({known}; "
                         "fdsl-gen recipes lists them) nor a file")
    try:
        with open(recipe) as f:
            options = json.load(f)
    except OSError as e:
        raise UsageError(f"cannot read --recipe {recipe}: {e.strerror}") from None
    except ValueError as e:
        raise UsageError(f"--recipe {recipe} is not valid JSON: {e}") from None
    if not isinstance(options, dict):
        raise UsageError("--recipe must hold a JSON object of options")
    return options


def merge_recipe(family, options):
    """Options from --recipe, overridden by flags given on the command line."""
    if not options.get("recipe"):
        return options
    ctx = click.get_current_context()
    explicit = {k: v for k, v in options.items() if ctx.get_parameter_source(k) == click.core.ParameterSource.COMMANDLINE}
    recipe = load_recipe(family, options["recipe"])
    if recipe.get("family", family.name) != family.name:
        raise UsageError(f"--recipe is for family {recipe['family']!r}, not {family.name!r}")
    merged = dict(options)
    for key, value in family.recipe_options(recipe).items():
        key = key.replace("-", "_")
        if key in ("family", "description"):
            continue
        if key not in options or key in RUN_ONLY:
            raise UsageError(f"--recipe has an unknown option {key!r}")
        merged[key] = value
    merged.update(explicit)
    return merged


def run_generation(family, options):
    from .generate import generate
    from .plan import NodeSplit

    options = merge_recipe(family, options)
    config = family.configure({k: v for k, v in options.items() if k not in RUN_ONLY | OUTPUT_OPTIONS})
    shard_size = options["shard_size"] if options["shard_size"] is not None else SHARD_SIZE
    if shard_size < 1:
        raise UsageError(f"--shard-size must be positive, got {shard_size}")
    name = options["name"] or family.name
    if not isinstance(name, str) or not name or any(c in name for c in "/.{}") or name != name.strip():
        raise UsageError(f"--name {name!r} must be a plain name (no '/', '.', braces or surrounding spaces)")
    node = NodeSplit(options["num_nodes"], options["node_rank"])
    engine = create_engine(options["engine"], options["workers"], options["retries"], options["ray_address"])
    manifest = generate(
        family,
        config,
        options["out"],
        name,
        shard_size,
        engine,
        overwrite=options["overwrite"],
        search_only=options.get("search_only", False),
        progress=not options["quiet"],
        node=node,
    )
    if manifest.get("diverged_samples"):
        click.echo(
            f"warning: {manifest['diverged_samples']} samples come from systems that diverged; they are "
            'flagged "diverged": true in their .json (see README, "Diverging systems")',
            err=True,
        )
    if node.count > 1 and manifest["status"] == "in-progress":  # the other nodes may still be running
        click.echo(f"{node}: its {len(node.shards(manifest['num_shards']))} of {manifest['num_shards']} shards are "
                   f"in {options['out']}; when every node has run: fdsl-gen finalize {options['out']}")
    else:
        click.echo(summary(manifest, options["out"]))


def summary(manifest, out):
    """The line that says what a run made."""
    if manifest["status"] == "complete" and not manifest["labelled"]:
        return f"{manifest['num_samples']} unlabelled samples in {manifest['num_shards']} shards: {out}"
    if manifest["status"] == "complete":
        return f"{manifest['num_samples']} samples of {manifest['num_classes']} classes in {manifest['num_shards']} shards: {out}"
    if manifest["labelled"]:
        return f"class table of {manifest['num_classes']} classes: {out.rstrip('/')}/manifest.json"
    return f"manifest of {manifest['num_samples']} images, none rendered: {out.rstrip('/')}/manifest.json"


class FamilyGroup(click.Group):
    """The group whose family commands are built, when asked for, from the family classes
    (importing only the family a command needs)."""

    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx)) | set(family_names()))

    def get_command(self, ctx, name):
        command = super().get_command(ctx, name)
        if command is None and name in family_names():
            command = family_command(get_family(name))
        return command


@click.group(cls=FamilyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="fdsl-gen")
def cli():
    """Render formula-driven pre-training datasets into WebDataset shards."""


@cli.command(params=[*engine_options(),
                     click.Option(["--no-decode"], is_flag=True, help="Check sizes and sha256 only, not every sample.")])
@click.argument("directory", type=click.Path(file_okay=False))
def verify(directory, workers, engine, ray_address, retries, no_decode):
    """Check every shard in DIRECTORY (a folder or URL) against its manifest (count, size,
    sha256, decoding).

    Exit status: 0 all good, 1 bad shards (named), 2 not an fdsl dataset."""
    from .verify import verify as verify_output

    problems, manifest = verify_output(directory, create_engine(engine, workers, retries, ray_address),
                                       decode=not no_decode)
    if problems:
        for where, reason in problems:
            click.echo(f"BAD {where}: {reason}", err=True)
        bad = sorted({where for where, _ in problems})
        raise GenerationError(f"{len(bad)} bad: {' '.join(bad)}")
    click.echo(f"OK {len(manifest['shards'])} shards, {manifest['num_samples']} samples: {directory}")


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="One JSON object, for scripts.")
def info(directory, as_json):
    """What DIRECTORY holds: family, status, counts, bytes, diverged samples and the command
    that reproduces it."""
    from .info import describe, summary

    facts = summary(directory)
    click.echo(json.dumps(facts, indent=1) if as_json else "\n".join(describe(facts)))


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--classes", type=int, default=8, help="Rows: classes 0..K-1 (unlabelled sets: rows of --per-class "
                                                      "images). [default: 8]")
@click.option("--per-class", type=int, default=8, help="Images a row, spread over the class. [default: 8]")
@click.option("--thumb", type=int, default=128, help="Thumbnail side in pixels, 8 to 1024. [default: 128]")
@click.option("--out", "sheet", type=click.Path(dir_okay=False),
              help="The contact sheet PNG. [default: DIRECTORY/preview.png, unless only --html is given]")
@click.option("--html", "gallery", type=click.Path(file_okay=False),
              help="Also write a static gallery: DIRECTORY/index.html and the images it shows.")
def preview(directory, classes, per_class, thumb, sheet, gallery):
    """A contact sheet of DIRECTORY: one row per class, labelled with its index and key
    parameters. Reads the shards, or renders from the manifest when there are none yet."""
    from .preview import preview as write_preview

    if sheet is None and gallery is None:
        sheet = os.path.join(directory, "preview.png")
    rows, shown, source = write_preview(directory, classes, per_class, thumb, sheet, gallery)
    origin = "read from the shards" if source == "shards" else "rendered from the manifest"
    for path in filter(None, (sheet, gallery and os.path.join(gallery, "index.html"))):
        click.echo(f"{path}: {shown} images in {rows} rows, {origin}")


@cli.command()
@click.argument("directory")
def finalize(directory):
    """Complete a dataset that node-split runs (--num-nodes N --node-rank R) rendered into
    DIRECTORY (a folder or URL): check that every shard has its completion record, then write
    the complete manifest and _info.json.

    Exit status: 0 complete, 1 shards missing (named), 2 not an fdsl dataset."""
    from .generate import finalize as finalize_output

    click.echo(summary(finalize_output(directory), directory))


@cli.command()
@click.argument("name", required=False)
def recipes(name):
    """List the published recipes, or print recipe NAME as JSON (to save and edit).

    Use one with: fdsl-gen FAMILY --recipe NAME --out DIR"""
    published = {recipe: (family, options) for family in map(get_family, family_names())
                 for recipe, options in family.recipes.items()}
    if name is None:
        width = max(map(len, published), default=0)
        family_width = max((len(family.name) for family, _ in published.values()), default=0)
        for recipe, (family, options) in sorted(published.items()):
            summary = options.get("description", "").split(": ")[0]
            click.echo(f"{recipe:<{width}}  {family.name:<{family_width}}  {summary}")
        return
    if name not in published:
        raise UsageError(f"no published recipe {name!r}; known: {', '.join(sorted(published))}")
    click.echo(json.dumps(published[name][1], indent=1))


def main(argv=None):
    """Entry point: Click without its multi-line usage errors or tracebacks."""
    try:
        code = cli.main(args=argv, prog_name="fdsl-gen", standalone_mode=False)
    except click.exceptions.UsageError as e:
        command = e.ctx.command_path if e.ctx else "fdsl-gen"
        click.echo(f"{command}: error: {e.format_message()}", err=True)
        code = 2
    except click.exceptions.Abort:
        click.echo("fdsl-gen: interrupted", err=True)
        code = 130
    except click.exceptions.ClickException as e:
        click.echo(f"fdsl-gen: error: {e.format_message()}", err=True)
        code = e.exit_code
    except (UsageError, GenerationError) as e:
        click.echo(f"fdsl-gen: error: {e}", err=True)
        code = e.exit_code
    except KeyboardInterrupt:
        click.echo("fdsl-gen: interrupted; rerun the same command to resume", err=True)
        code = 130
    sys.exit(code or 0)
