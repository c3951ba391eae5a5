"""The statistical image models of "Learning to See by Looking at Noise" (Baradad et al.,
NeurIPS 2021) as an unlabelled set: image i is the model's image for the key of (seed, i).

The models themselves (random 1/f spectra, colour distributions and wavelet marginals, by
alternating projections) are in ``fdsl_gen/statistical.py``.
"""
from .. import statistical
from .base import LOOKING_AT_NOISE, Option, UnlabelledFamily, image_set_options, register_family


@register_family
class Spectrum(UnlabelledFamily):
    name = "spectrum"
    help = """Statistical image models (Baradad et al., NeurIPS 2021), unlabelled: random 1/f
    spectra, colour distributions and wavelet marginals.

    Example: fdsl-gen spectrum --model spectrum-color --images 1300000 --out shards/spectrum-color"""
    options = (
        Option("model", str, "spectrum-color-wmm",
               "spectrum, spectrum-color or spectrum-color-wmm (wavelet marginals, ~0.4 s per 256 px image).",
               choices=statistical.MODELS),
        # the paper's large-scale sets: 1.3M images of 256 px
        *image_set_options(1_300_000, 256, statistical.MIN_IMAGE_SIZE, 0,
                           "Dataset seed: every image's draws and the sample order."),
    )
    streams = {"image": 6}  # every draw of one image
    channels = 3
    paper = LOOKING_AT_NOISE
    png_params = statistical.PNG_PARAMS

    def render_image(self, index):
        return statistical.sample_image(self.key("image", index), self.config["image_size"], self.config["model"])

    @staticmethod
    def render_sample(meta):
        return statistical.sample_image(int(meta["key"]), meta["image_size"], meta["model"])[0]
