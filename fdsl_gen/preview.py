"""fdsl-gen preview: a contact sheet of a dataset, one row per class, and a static HTML gallery.

The samples come from the shards of a complete dataset (only the shards that hold them are
opened: the plan says which), or are rendered from the manifest when there are no shards yet
(a --search-only output, a run in progress). Both give the same sheet, since the shards hold
exactly what the family renders. Labelled sets show classes 0..K-1, each with M instances
spread evenly over the class; unlabelled sets show their first K x M images, M a row.
"""
import html
import io
import json
import math
import os
import tarfile
from collections import namedtuple

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from . import manifest as manifests
from .cards import counts
from .errors import GenerationError, UsageError
from .plan import Plan
from .reproduce import command, family_of
from .shards import encode_png, write_atomic
from .worker import sample_key

BACKGROUND = (24, 24, 27)
TEXT = (230, 230, 230)
MUTED = (150, 150, 160)
PAD, GAP, LINE = 10, 4, 16  # pixels: margin, gap between thumbnails, text line height
LABEL_WIDTH = 150  # the label column
MAX_THUMB = 1024


def choose_rows(manifest, classes, per_class):
    """[(label lines, [(class index, instance), ...])], one entry per row of the sheet: a row
    per class for a set with a class table (patches: a row per source image)."""
    if "classes" in manifest:
        family = family_of(manifest)
        count = manifest["instances_per_class"]
        shown = min(per_class, count)
        instances = [i * count // shown for i in range(shown)]  # spread over the class
        rows = []
        for class_index in range(min(classes, manifest["num_classes"])):
            summary = family.class_summary(manifest["classes"][class_index])
            details = [f"{key} {value:.3g}" if isinstance(value, float) else f"{key} {value}"
                       for key, value in summary.items()]
            title = f"{'class' if manifest['labelled'] else 'source'} {class_index}"
            rows.append(([title, *details], [(class_index, k) for k in instances]))
        return rows
    total = min(classes * per_class, manifest["num_samples"])
    return [([f"images {first}-{min(first + per_class, total) - 1}"],
             [(index, 0) for index in range(first, min(first + per_class, total))])
            for first in range(0, total, per_class)]


# An image (uint8 array), its .json as a dict, and its PNG bytes when read from a shard.
Sample = namedtuple("Sample", "image meta png")


def _decode(png):
    return np.array(Image.open(io.BytesIO(png)))


def read_from_shards(out, manifest, family, wanted):
    """{(class, instance): Sample} read from the shards that hold them."""
    config = manifest["config"]
    plan = Plan.of(family, config["shard_size"], config["seed"])
    keys_by_shard = {}
    for class_index, instance in wanted:
        shard = plan.shard_of(class_index, instance // family.group_size)
        keys_by_shard.setdefault(shard, {})[sample_key(class_index, instance)] = (class_index, instance)
    samples = {}
    for shard, keys in sorted(keys_by_shard.items()):
        path = os.path.join(out, manifest["shards"][shard]["file"])
        members = {}
        try:
            with tarfile.open(path) as tar:
                for member in tar:
                    key, _, extension = member.name.partition(".")
                    if key in keys:
                        members.setdefault(key, {})[extension] = tar.extractfile(member).read()
        except (OSError, tarfile.TarError) as e:
            raise GenerationError(f"cannot read {path} ({e}): run fdsl-gen verify {out}") from None
        for key, where in keys.items():
            if not {"png", "json"} <= set(members.get(key, {})):
                raise GenerationError(f"{path} lacks sample {key}: run fdsl-gen verify {out}")
            png = members[key]["png"]
            samples[where] = Sample(_decode(png), json.loads(members[key]["json"]), png)
    return samples


def render_from_manifest(family, wanted):
    """{(class, instance): Sample} rendered by the family, a render group at a time."""
    family.prepare()
    samples = {}
    by_group = {}
    for class_index, instance in wanted:
        by_group.setdefault((class_index, instance // family.group_size), set()).add(instance)
    for (class_index, group), instances in sorted(by_group.items()):
        for instance, image, meta in family.render_group(class_index, group):
            if instance in instances:  # the others of a large group are dropped at once
                meta = json.loads(json.dumps(meta))  # as the shards' .json hold it
                samples[class_index, instance] = Sample(image, meta, None)
    return samples


def collect(out, manifest, rows):
    """(the samples of ``rows``, the family object, where they came from: "shards" or
    "manifest")."""
    family = family_of(manifest)(manifest["config"], manifest.get("classes"))
    wanted = [cell for _, cells in rows for cell in cells]
    if manifest["status"] == manifests.COMPLETE:
        return read_from_shards(out, manifest, family, wanted), family, "shards"
    return render_from_manifest(family, wanted), family, "manifest"


def title(manifest):
    size = manifest["config"].get("image_size")
    name, family = manifest["config"]["name"], manifest["family"]
    return (f"{name} - {family}" if name != family else family) + f", {counts(manifest)}" + (
        f", {size} px" if size else "")


def thumbnail(image, side):
    """An image fitted into side x side: area-averaged down, nearest-neighbour up."""
    picture = Image.fromarray(image).convert("RGB")
    scale = side / max(picture.size)
    size = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
    return picture.resize(size, Image.Resampling.BOX if scale < 1 else Image.Resampling.NEAREST)


def _wrap(words, font, width):
    lines = []
    for word in words:
        if lines and font.getlength(lines[-1] + ", " + word) <= width:
            lines[-1] += ", " + word
        else:
            lines.append(word)
    return lines


class Layout:
    """Where things go on the sheet: rows as tall as their thumbnails or their label."""

    def __init__(self, columns, label_lines, thumb, title_width):
        self.thumb = thumb
        self.top = [PAD + LINE + PAD]  # the first row starts below the title
        for lines in label_lines:
            self.top.append(self.top[-1] + max(thumb, lines * LINE) + GAP)
        self.width = max(2 * PAD + LABEL_WIDTH + columns * (thumb + GAP) - GAP, 2 * PAD + math.ceil(title_width))
        self.height = self.top.pop() - GAP + PAD

    def cell(self, row, column):
        """The top-left corner of a thumbnail."""
        return PAD + LABEL_WIDTH + column * (self.thumb + GAP), self.top[row]


def contact_sheet(manifest, rows, samples, thumb):
    """The sheet as a PIL image."""
    font = ImageFont.load_default(size=13)
    heading = title(manifest)
    labels = [[label[0], *_wrap(label[1:], font, LABEL_WIDTH - GAP)] for label, _ in rows]
    layout = Layout(max(len(cells) for _, cells in rows), [len(lines) for lines in labels], thumb,
                    font.getlength(heading))
    sheet = Image.new("RGB", (layout.width, layout.height), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    draw.text((PAD, PAD), heading, font=font, fill=TEXT)
    for row, (lines, (_, cells)) in enumerate(zip(labels, rows)):
        y = layout.cell(row, 0)[1]
        for number, text in enumerate(lines):
            draw.text((PAD, y + number * LINE), text, font=font, fill=TEXT if number == 0 else MUTED)
        for column, cell in enumerate(cells):
            sheet.paste(thumbnail(samples[cell].image, thumb), layout.cell(row, column))
    return sheet


def _ensure_parent(path):
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as e:
        raise UsageError(f"cannot create {folder}: {e.strerror}") from None


def write_sheet(path, sheet):
    _ensure_parent(path)
    buffer = io.BytesIO()
    sheet.save(buffer, format="PNG", optimize=False)
    write_atomic(path, buffer.getvalue())


PAGE_STYLE = """body{background:#18181b;color:#e6e6e6;font:14px/1.4 system-ui,sans-serif;margin:24px}
h1{font-size:20px;margin:0 0 8px}h2{font-size:15px;margin:18px 0 2px}p{margin:2px 0;color:#9696a0}
code{color:#e6e6e6;word-break:break-all}.row{display:flex;flex-wrap:wrap;gap:6px;margin-top:6px}
figure{margin:0;text-align:center}figcaption{font-size:11px;color:#9696a0}
img{display:block;background:#000}img.small{image-rendering:pixelated}"""


def write_gallery(folder, out, manifest, rows, samples, thumb, png_params):
    """A static page, FOLDER/index.html, with each sample as FOLDER/images/KEY.png (its own
    PNG from the shard); hovering an image shows its .json, clicking opens it at full size.
    index.html is written last, so a gallery cut short has none."""
    images = os.path.join(folder, "images")
    _ensure_parent(os.path.join(images, "x"))
    sections = []
    for label, cells in rows:
        figures = []
        for class_index, instance in cells:
            sample = samples[class_index, instance]
            name = sample_key(class_index, instance) + ".png"
            png = sample.png if sample.png is not None else encode_png(sample.image, png_params)
            write_atomic(os.path.join(images, name), png)
            caption = f"#{instance}" if "classes" in manifest else f"#{class_index}"
            small = ' class="small"' if max(sample.image.shape[:2]) < thumb else ""  # shown enlarged
            figures.append(f'<figure><a href="images/{name}"><img src="images/{name}"{small} width="{thumb}" '
                           f'height="{thumb}" alt="{name}" title="{html.escape(json.dumps(sample.meta, sort_keys=True))}">'
                           f"</a><figcaption>{caption}</figcaption></figure>")
        details = f"<p>{html.escape(', '.join(label[1:]))}</p>" if label[1:] else ""
        sections.append(f"<section><h2>{html.escape(label[0])}</h2>{details}<div class=\"row\">"
                        + "".join(figures) + "</div></section>")
    page = "\n".join([
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title(manifest))}</title><style>{PAGE_STYLE}</style></head><body>",
        f"<h1>{html.escape(title(manifest))}</h1>",
        f"<p>status {html.escape(manifest['status'])}; made by <code>{html.escape(command(manifest, out))}</code></p>",
        *sections, "</body></html>", "",
    ])
    write_atomic(os.path.join(folder, "index.html"), page.encode())


def preview(out, classes, per_class, thumb, sheet_path=None, gallery=None):
    """Write the contact sheet (if ``sheet_path``) and the gallery (if ``gallery``); returns
    (rows, samples shown, where they came from)."""
    manifest = manifests.read_dataset(out)
    for name, value, low, high in (("--classes", classes, 1, None), ("--per-class", per_class, 1, None),
                                   ("--thumb", thumb, 8, MAX_THUMB)):
        if value < low or (high is not None and value > high):
            bounds = f"in [{low}, {high}]" if high else f"at least {low}"
            raise UsageError(f"{name} must be {bounds}, got {value}")
    rows = choose_rows(manifest, classes, per_class)
    samples, family, source = collect(out, manifest, rows)
    if sheet_path is not None:
        write_sheet(sheet_path, contact_sheet(manifest, rows, samples, thumb))
    if gallery is not None:
        write_gallery(gallery, out, manifest, rows, samples, thumb, family.png_params)
    return len(rows), len(samples), source
