"""Dataset cards of a complete dataset: a Hugging Face card (README.md with its YAML header)
and Croissant 1.0 metadata (croissant.json).

Both are pure functions of the manifest (and the family's declarations): no dates, paths or
machine facts, so the same command still gives the same bytes. They are written right after
the complete manifest, by ``write_cards``, and removed while a dataset is not complete.
"""
import json
import os

from . import manifest as manifests
from .reproduce import command, family_of

README = "README.md"
CROISSANT = "croissant.json"
CARDS = (README, CROISSANT)

# A dataset generated from formulas holds no one else's images; CC BY 4.0 asks for the
# attribution that the citation gives. Edit the cards to publish under another licence.
LICENSE = "cc-by-4.0"
LICENSE_URL = "https://creativecommons.org/licenses/by/4.0/"
TAGS = ("synthetic", "formula-driven-supervised-learning", "fdsl", "webdataset")
# Hugging Face's size categories: the first whose bound exceeds the sample count
SIZE_CATEGORIES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
                   (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"), (1_000_000_000, "100M<n<1B"))


def size_category(samples):
    return next((category for bound, category in SIZE_CATEGORIES if samples < bound), "1B<n<10B")


def shard_pattern(manifest):
    """The shards in WebDataset's brace notation."""
    name, last = manifest["config"]["name"], manifest["num_shards"] - 1
    return f"{name}-{0:06d}.tar" if last == 0 else f"{name}-{{{0:06d}..{last:06d}}}.tar"


def bibtex(paper):
    return "\n".join([
        f"@inproceedings{{{paper.key},",
        f"  title = {{{paper.title}}},",
        f"  author = {{{' and '.join(paper.authors)}}},",
        f"  booktitle = {{{paper.venue}}},",
        f"  year = {{{paper.year}}},",
        f"  url = {{{paper.url}}}",
        "}",
    ])


def counts(manifest):
    if manifest["labelled"]:
        return f"{manifest['num_classes']:,} classes x {manifest['instances_per_class']:,} images"
    return f"{manifest['num_samples']:,} unlabelled images"


def _description(family, manifest):
    summary = " ".join(family.help.split("\n\n")[0].split())
    return f"{summary} {counts(manifest)}, rendered from formulas by fdsl-gen {manifest['tool_version']}."


def _yaml(value, indent=""):
    """A small YAML emitter for the card header: dicts, lists and JSON-quoted scalars."""
    lines = []
    for key, item in value.items():
        if isinstance(item, list):
            lines.append(f"{indent}{key}:")
            for element in item:
                if isinstance(element, dict):
                    first, *rest = _yaml(element, indent + "  ")
                    lines += [f"{indent}- {first.strip()}", *rest]
                else:
                    lines.append(f"{indent}- {json.dumps(element)}")
        elif isinstance(item, dict):
            lines += [f"{indent}{key}:", *_yaml(item, indent + "  ")]
        else:
            lines.append(f"{indent}{key}: {json.dumps(item)}")
    return lines


def hugging_face_card(manifest):
    """README.md: the Hub's YAML header, then what the dataset is and how to load it."""
    family = family_of(manifest)
    name = manifest["config"]["name"]
    pattern = shard_pattern(manifest)
    header = {
        "license": LICENSE,
        "pretty_name": f"{name}: {family.name}, {counts(manifest)}",
        "task_categories": ["image-classification" if manifest["labelled"] else "image-feature-extraction"],
        "size_categories": [size_category(manifest["num_samples"])],
        "tags": [*TAGS, family.name],
        "configs": [{"config_name": "default", "data_files": [{"split": "train", "path": f"{name}-*.tar"}]}],
    }
    size = manifest["config"].get("image_size", "?")
    image = f"{size} x {size} px, " + (
        "8-bit grayscale PNG" if manifest["image_channels"] == 1 else "RGB PNG")
    label = "the class index" if manifest["labelled"] else "the image index (the set is unlabelled)"
    decode = "l" if manifest["image_channels"] == 1 else "rgb"
    paper = family.paper
    lines = [
        "---", *_yaml(header), "---", "",
        f"# {name}", "",
        _description(family, manifest), "",
        "| | |", "| --- | --- |",
        f"| family | `{family.name}` |",
        *([f"| classes | {manifest['num_classes']:,} |", f"| images per class | {manifest['instances_per_class']:,} |"]
          if manifest["labelled"] else []),
        f"| samples | {manifest['num_samples']:,} |",
        f"| images | {image} |",
        f"| shards | {manifest['num_shards']:,} WebDataset tar files, `{pattern}`, "
        f"{sum(s['bytes'] for s in manifest['shards']):,} bytes |",
        f"| diverged samples | {manifest.get('diverged_samples', 0):,} |", "",
    ]
    if paper is not None:
        lines += ["## Paper", "", f"{', '.join(paper.authors)}. *{paper.title}*. {paper.venue}, {paper.year}. "
                  f"<{paper.url}>", "", "```bibtex", bibtex(paper), "```", ""]
    lines += [
        "## How it was made", "",
        "Every image is a pure function of this command: it writes these shards again, byte for byte, on any "
        "number of workers (fdsl's README says which families can differ in the last bits across CPUs).", "",
        "```sh", command(manifest, name), "```", "",
        f"`manifest.json` holds the full configuration{', the class table' if manifest['labelled'] else ''} and "
        f"each shard's sample count, size and sha256; `fdsl-gen verify {name}` checks the shards against it, "
        f"and `fdsl-gen preview {name}` draws a contact sheet.", "",
        "## Samples", "",
        f"Each sample has three members with the same key: `.png` (the image), `.cls` ({label}, as ASCII digits) "
        "and `.json` (its parameters, with one schema for every sample). Samples are shuffled across and within "
        "shards.", "",
        "## Loading", "",
        "With [webdataset](https://github.com/webdataset/webdataset):", "",
        "```python", "import webdataset as wds",
        f'dataset = wds.WebDataset("{pattern}", shardshuffle=100).shuffle(1000).decode("{decode}").to_tuple("png", "cls")',
        "```", "",
        "With [timm](https://github.com/huggingface/pytorch-image-models) (reads `_info.json`):", "",
        "```python", "import timm.data",
        f'dataset = timm.data.create_dataset("wds/{name}", root=".", split="train")', "```", "",
        "With [Hugging Face datasets](https://github.com/huggingface/datasets):", "",
        "```python", "from datasets import load_dataset",
        f'dataset = load_dataset("webdataset", data_files={{"train": "{name}-*.tar"}}, split="train")',
        "# a copy on the Hub, by the configs in this card's header: load_dataset(\"USER/REPO\", split=\"train\")",
        "```", "",
        f"Pre-training on it with fdsl: `fdsl-train pretrain --data {name}`.", "",
        "## License", "",
        f"[CC BY 4.0]({LICENSE_URL}). The images are drawn from formulas: no photographs and no personal data.",
        "",
    ]
    return "\n".join(lines)


CROISSANT_CONTEXT = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/",
    "equivalentProperty": "cr:equivalentProperty",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "parentField": "cr:parentField",
    "path": "cr:path",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "samplingRate": "cr:samplingRate",
    "sc": "https://schema.org/",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
}


def croissant(manifest):
    """croissant.json: Croissant 1.0. Each shard is a FileObject (with its sha256); the PNGs
    inside them are a FileSet; the record set "samples" takes each sample's key, image and
    label from the PNG members (the label is the key's class part, as .cls)."""
    family = family_of(manifest)
    name = manifest["config"]["name"]
    shards = [{"@type": "cr:FileObject", "@id": s["file"], "name": s["file"], "contentUrl": s["file"],
               "contentSize": f"{s['bytes']} B", "encodingFormat": "application/x-tar", "sha256": s["sha256"]}
              for s in manifest["shards"]]
    images = {"@type": "cr:FileSet", "@id": "png-files", "name": "png-files",
              "description": "The images: the .png members of every shard.",
              "containedIn": [{"@id": s["file"]} for s in manifest["shards"]],
              "encodingFormat": "image/png", "includes": "*.png"}

    def field(field_id, description, data_type, file_property, regex=None):
        source = {"fileSet": {"@id": "png-files"}, "extract": {"fileProperty": file_property}}
        if regex:
            source["transform"] = {"regex": regex}
        return {"@type": "cr:Field", "@id": f"samples/{field_id}", "name": field_id, "description": description,
                "dataType": data_type, "source": source}

    label = "class index" if manifest["labelled"] else "image index (an unlabelled set)"
    metadata = {
        "@context": CROISSANT_CONTEXT,
        "@type": "sc:Dataset",
        "conformsTo": "http://mlcommons.org/croissant/1.0",
        "name": name,
        "description": _description(family, manifest),
        "license": LICENSE_URL,
        "keywords": [*TAGS, family.name],
        "isAccessibleForFree": True,
        "distribution": [*shards, images],
        "recordSet": [{
            "@type": "cr:RecordSet", "@id": "samples", "name": "samples",
            "description": f"One record per sample: {counts(manifest)}.",
            "key": {"@id": "samples/key"},
            "field": [
                field("key", "The sample's key in the shards: CLASS_INSTANCE, zero-padded.", "sc:Text",
                      "filename", r"^(\d+_\d+)\.png$"),
                field("image", "The image.", "sc:ImageObject", "content"),
                field("label", f"The {label}, as in the sample's .cls.", "sc:Integer", "filename",
                      r"^(\d+)_\d+\.png$"),
            ],
        }],
    }
    if family.paper is not None:
        metadata["citeAs"] = bibtex(family.paper)
    return metadata


def _output(out):
    from .output import open_output

    return open_output(os.fspath(out)) if isinstance(out, (str, os.PathLike)) else out


def write_cards(out, manifest):
    """Write README.md and croissant.json for the complete dataset of ``manifest`` into
    ``out`` (an fdsl_gen.output, or a folder's path)."""
    if manifest["status"] != manifests.COMPLETE:
        raise ValueError("cards describe complete datasets only")
    output = _output(out)
    output.write_atomic(README, hugging_face_card(manifest).encode())
    output.write_atomic(CROISSANT, json.dumps(croissant(manifest), indent=1).encode() + b"\n")


def remove_cards(out):
    """Remove the cards of a dataset that is no longer complete (being rewritten)."""
    output = _output(out)
    present = output.entries()
    for card in CARDS:
        if card in present:
            output.remove(card)
