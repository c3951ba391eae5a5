"""fdsl-gen: one command per dataset family, plus verify. Options and errors only."""
import json
import os
import sys

import click

from . import __version__
from .errors import GenerationError, UsageError
from .families import get_family

# Options that shape the run but not the dataset bytes; never taken from a recipe.
RUN_ONLY = {"out", "workers", "overwrite", "quiet", "recipe", "search_only"}


def default_workers():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def common_options(default_name):
    def decorate(command):
        options = [
            click.option("--out", required=True, type=click.Path(file_okay=False), help="Output folder for shards and manifest."),
            click.option("--recipe", type=click.Path(dir_okay=False), help="JSON file of options (keys as option names); flags given on the command line win."),
            click.option("--name", default=None, help=f"Shard name prefix: NAME-000000.tar. [default: {default_name}]"),
            click.option("--shard-size", type=int, default=None, help="Samples per shard (whole render groups). [default: 1000]"),
            click.option("--workers", type=int, default=None, help="Worker processes. [default: all cores]"),
            click.option("--overwrite", is_flag=True, help="Replace an existing dataset in --out instead of resuming it."),
            click.option("--quiet", is_flag=True, help="No progress bars."),
        ]
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


def merge_recipe(options, family_name):
    """Options from --recipe, overridden by flags given on the command line."""
    ctx = click.get_current_context()
    explicit = {k: v for k, v in options.items() if ctx.get_parameter_source(k) == click.core.ParameterSource.COMMANDLINE}
    merged = dict(options)
    if options.get("recipe"):
        try:
            with open(options["recipe"]) as f:
                recipe = json.load(f)
        except OSError as e:
            raise UsageError(f"cannot read --recipe {options['recipe']}: {e.strerror}") from None
        except ValueError as e:
            raise UsageError(f"--recipe {options['recipe']} is not valid JSON: {e}") from None
        if not isinstance(recipe, dict):
            raise UsageError("--recipe must hold a JSON object of options")
        if recipe.get("family", family_name) != family_name:
            raise UsageError(f"--recipe is for family {recipe['family']!r}, not {family_name!r}")
        recipe = get_family(family_name).recipe_options(recipe)
        for key, value in recipe.items():
            key = key.replace("-", "_")
            if key in ("family", "description"):
                continue
            if key not in options or key in RUN_ONLY:
                raise UsageError(f"--recipe has an unknown option {key!r}")
            merged[key] = value
    merged.update(explicit)
    return merged


def run_generation(family_name, options):
    from .generate import generate

    options = merge_recipe(options, family_name)
    family_cls = get_family(family_name)
    config = family_cls.configure({k: v for k, v in options.items() if k not in RUN_ONLY | {"name", "shard_size"}})
    workers = options["workers"] if options["workers"] is not None else default_workers()
    shard_size = options["shard_size"] if options["shard_size"] is not None else 1000
    if workers < 1:
        raise UsageError(f"--workers must be positive, got {workers}")
    if shard_size < 1:
        raise UsageError(f"--shard-size must be positive, got {shard_size}")
    name = options["name"] or family_name
    if not name or any(c in name for c in "/.{}") or name != name.strip():
        raise UsageError(f"--name {name!r} must be a plain name (no '/', '.', braces or surrounding spaces)")
    manifest = generate(
        family_cls,
        config,
        options["out"],
        name,
        shard_size,
        workers,
        overwrite=options["overwrite"],
        search_only=options.get("search_only", False),
        progress=not options["quiet"],
    )
    if manifest.get("diverged_samples"):
        click.echo(
            f"warning: {manifest['diverged_samples']} samples come from systems that diverged; they are "
            'flagged "diverged": true in their .json (see README, "Diverging systems")',
            err=True,
        )
    if manifest["status"] == "complete" and not manifest["labelled"]:
        click.echo(f"{manifest['num_samples']} unlabelled samples in {manifest['num_shards']} shards: {options['out']}")
    elif manifest["status"] == "complete":
        click.echo(f"{manifest['num_samples']} samples of {manifest['num_classes']} classes in {manifest['num_shards']} shards: {options['out']}")
    else:
        click.echo(f"class table of {manifest['num_classes']} classes: {os.path.join(options['out'], 'manifest.json')}")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="fdsl-gen")
def cli():
    """Render formula-driven pre-training datasets into WebDataset shards."""


@cli.command()
@click.option("--classes", type=int, default=None, help="Number of categories. [default: 1000, or all of --params]")
@click.option("--filling-rate", type=float, default=None, help="Search threshold: fraction of a 512 px canvas a category must fill. [default: 0.2]")
@click.option("--seed", type=int, default=None, help="Search seed (numpy legacy RandomState); also seeds patch masks and sample order. [default: 1]")
@click.option("--search-points", type=int, default=None, help="Chaos-game points per search candidate. [default: 100000]")
@click.option("--params", type=click.Path(exists=True), default=None, help="Skip the search: class tables from an fdsl manifest or a folder of reference CSVs.")
@click.option("--search-only", is_flag=True, help="Write the manifest with the class table and no images.")
@click.option("--image-size", type=int, default=None, help="Image side in pixels. [default: 362]")
@click.option("--points", type=int, default=None, help="Chaos-game points per render. [default: 200000]")
@click.option("--pad", type=int, default=None, help="Padding in pixels. [default: 6]")
@click.option("--weight-step", type=float, default=None, help="Step of the 25 weight variants, in (0, 0.5]. [default: 0.4]")
@click.option("--draw", type=click.Choice(["patch", "point"]), default=None, help="Patch (3x3 random masks) or point rendering. [default: patch]")
@click.option("--draws", type=int, default=None, help="Patch draws per weight variant. [default: 10 patch, 1 point]")
@click.option("--instances", type=int, default=None, help="Images per class, at most 25 x draws x 4 flips. [default: all]")
@common_options("fractaldb")
def fractaldb(**options):
    """FractalDB: IFS fractal categories (Kataoka et al., ACCV 2020).

    Example: fdsl-gen fractaldb --recipe manifests/fractaldb-1k.json --out shards/fractaldb-1k
    """
    run_generation("fractaldb", options)


@cli.command()
@click.option("--mode", type=click.Choice(["native", "replay"]), default=None,
              help="native: every class and instance seeded from --seed alone. replay: the reference script's "
              "random streams, pixel for pixel. [default: native; replay for a recipe of reference argument names]")
@click.option("--classes", type=int, default=None, help="Number of classes (numof_classes). [default: 1000]")
@click.option("--instances", type=int, default=None, help="Images per class (numof_instances). [default: 1000]")
@click.option("--seed", type=int, default=None, help="Dataset seed: class and instance streams in native mode, and the sample order. [default: 0]")
@click.option("--image-size", type=int, default=None, help="Image side in pixels, at least 16. [default: 512]")
@click.option("--vertex-num-min", type=int, default=None, help="Vertices per orbit q drawn from [MIN, MAX]. [default: 200]")
@click.option("--vertex-num-max", type=int, default=None, help="[default: 1000]")
@click.option("--line-num-min", type=int, default=None, help="Orbits per image K drawn from [MIN, MAX]. [default: 1]")
@click.option("--line-num-max", type=int, default=None, help="[default: 200]")
@click.option("--perlin-min", type=float, default=None, help="Noise coefficient eta drawn from [P, P + 4]. [default: 0]")
@click.option("--line-width", type=float, default=None, help="Outward step per orbit w drawn from [0, W]; lines are always 1 px. [default: 0.1]")
@click.option("--radius-min", type=int, default=None, help="Start radius r0 (px) drawn from [R, R + 50]. [default: 10]")
@click.option("--oval-rate", type=float, default=None, help="Oval stretches ox, oy drawn from [1, O]. [default: 2]")
@click.option("--start-pos", type=int, default=None, help="Nucleus on each axis: (size + randint(-S, S)) / 2. [default: 512]")
@click.option("--nami-1-min", type=int, default=None, help="First wave frequency n1 drawn from [MIN, MAX]. [default: 0]")
@click.option("--nami-1-max", type=int, default=None, help="[default: 20]")
@click.option("--nami-2-min", type=int, default=None, help="Second wave frequency n2 drawn from [MIN, MAX], redrawn while equal to a nonzero n1. [default: 0]")
@click.option("--nami-2-max", type=int, default=None, help="[default: 20]")
@click.option("--threads", type=int, default=None, help="Replay: processes of the reference run (numof_thread); leftover classes are not rendered, as there. [default: 20]")
@click.option("--start-class", type=int, default=None, help="Replay: number of the first class (start_class). [default: 0]")
@common_options("visualatom")
def visualatom(**options):
    """VisualAtom: orbits of sinusoidal waves (Takashima et al., CVPR 2023).

    A --recipe whose keys are the reference script's argument names (numof_classes,
    numof_thread, vertex_num_min, ...) selects replay mode; missing keys take the published
    launch-script values.

    \b
    Examples:
      fdsl-gen visualatom --classes 1000 --instances 1000 --seed 0 --out shards/va-1k
      fdsl-gen visualatom --recipe manifests/visualatom-1k.json --out shards/visualatom-1k
    """
    run_generation("visualatom", options)


@cli.command()
@click.option("--shape", default=None, help="Leaf shape: square, oriented (oriented_square), circle, rectangle, triangle, quadrilater, or mixed (a random one per leaf). [default: square]")
@click.option("--textured", is_flag=True, default=None, help="Dead leaves - Textures: each colour region shows a Spectrum+Color+WMM texture.")
@click.option("--texture-pool", type=int, default=None, help="With --textured: textures to draw regions' textures from (each worker renders those it uses, ~1 s each). [default: 1000]")
@click.option("--images", type=int, default=None, help="Number of images. [default: 1300000]")
@click.option("--image-size", type=int, default=None, help="Image side in pixels, at least 32. [default: 256]")
@click.option("--seed", type=int, default=None, help="Image i is the reference image for seed i + SEED; also seeds textures and the sample order. [default: 0]")
@common_options("deadleaves")
def deadleaves(**options):
    """Dead leaves (Baradad et al., NeurIPS 2021), unlabelled: each image is the reference
    script's image for its seed, pixel for pixel.

    Example: fdsl-gen deadleaves --shape mixed --images 1300000 --out shards/deadleaves-mixed
    """
    run_generation("deadleaves", options)


@cli.command()
@click.option("--model", default=None, help="spectrum, spectrum-color or spectrum-color-wmm (wavelet marginals, ~0.8 s per 256 px image). [default: spectrum-color-wmm]")
@click.option("--images", type=int, default=None, help="Number of images. [default: 1300000]")
@click.option("--image-size", type=int, default=None, help="Image side in pixels, at least 32. [default: 256]")
@click.option("--seed", type=int, default=None, help="Dataset seed: every image's draws and the sample order. [default: 0]")
@common_options("spectrum")
def spectrum(**options):
    """Statistical image models (Baradad et al., NeurIPS 2021), unlabelled: random 1/f
    spectra, colour distributions and wavelet marginals.

    Example: fdsl-gen spectrum --model spectrum-color --images 1300000 --out shards/spectrum-color
    """
    run_generation("spectrum", options)


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--workers", type=int, default=None, help="Processes. [default: all cores]")
@click.option("--no-decode", is_flag=True, help="Check sizes and sha256 only, not every sample.")
def verify(directory, workers, no_decode):
    """Check every shard in DIRECTORY against its manifest (count, size, sha256, decoding)."""
    from .verify import verify as verify_output

    problems, manifest = verify_output(directory, workers or default_workers(), decode=not no_decode)
    if problems:
        for where, reason in problems:
            click.echo(f"BAD {where}: {reason}", err=True)
        bad = sorted({where for where, _ in problems})
        raise GenerationError(f"{len(bad)} bad: {' '.join(bad)}")
    click.echo(f"OK {len(manifest['shards'])} shards, {manifest['num_samples']} samples: {directory}")


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
