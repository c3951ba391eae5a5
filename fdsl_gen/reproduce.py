"""The command that reproduces a dataset, rebuilt from its manifest (fdsl-gen info, cards)."""
import shlex

from . import manifest as manifests
from .cli import SHARD_SIZE
from .errors import UsageError
from .families import get_family

RECIPE_NOTES = ("family", "description", "name")  # recipe keys that are no option


def family_of(manifest):
    try:
        return get_family(manifest["family"])
    except KeyError:
        raise UsageError(f"the dataset's family {manifest['family']!r} is not installed") from None


def _configures_to(family, options, config):
    """Whether ``options`` give the declared options of ``config`` (values a family derives
    from them, such as an encoder's sha256, follow)."""
    try:
        configured = family.configure(dict(options))
    except UsageError:
        return False
    return {name: configured[name] for name in config} == config


def _fewest_options(family, config, base):
    """The fewest options that, over the recipe options ``base``, give ``config``; None if
    none do. Options at their declared (or the recipe's) value are left out, then each that
    a derived default restores (FractalDB's --draws, say) is dropped."""
    options = {option.name: config.get(option.name) for option in family.options
               if config.get(option.name) is not None and config.get(option.name) is not False
               and config.get(option.name) != base.get(option.name, option.default)}
    for name in list(options):
        fewer = {key: value for key, value in options.items() if key != name}
        if _configures_to(family, {**base, **fewer}, config):
            options = fewer
    return options if _configures_to(family, {**base, **options}, config) else None


def command_arguments(manifest, out):
    """The fdsl-gen arguments that write this dataset again into ``out``: the shortest of
    each published recipe plus options and plain options (a recipe on a tie)."""
    family = family_of(manifest)
    run_config = manifest["config"]
    config = {option.name: run_config.get(option.name) for option in family.options}
    candidates = []
    for recipe_name, recipe in [*family.recipes.items(), (None, {})]:
        base = {key.replace("-", "_"): value for key, value in family.recipe_options(recipe).items()
                if key not in RECIPE_NOTES}
        options = _fewest_options(family, config, base)
        if options is not None:
            arguments = ["--recipe", recipe_name] if recipe_name else []
            for name, value in options.items():
                flag = "--" + name.replace("_", "-")
                arguments += [flag] if value is True else [flag, repr(value) if isinstance(value, float) else str(value)]
            if run_config["name"] != recipe.get("name", family.name):
                arguments += ["--name", run_config["name"]]
            candidates.append(arguments)
    arguments = [family.name, *min(candidates, key=len)]
    if run_config["shard_size"] != SHARD_SIZE:
        arguments += ["--shard-size", str(run_config["shard_size"])]
    if manifest["status"] == manifests.SEARCH_ONLY:
        arguments.append("--search-only")
    return arguments + ["--out", out]


def command(manifest, out):
    """``command_arguments`` as one shell line."""
    return shlex.join(["fdsl-gen", *command_arguments(manifest, out)])
