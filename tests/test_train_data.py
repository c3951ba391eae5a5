"""fdsl_train.data: equal batch counts per rank, exact mid-epoch restarts, input checks, on
datasets that fdsl-gen renders (conftest.py)."""

import io
import json
import shutil
import tarfile

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from fdsl_train import InputError
from fdsl_train.data import (
    Augmentation,
    ContrastiveAugmentation,
    TrainSource,
    open_image_folder,
    open_shards,
    load_image,
    open_unlabelled,
    read_shard,
    tar_files,
    write_digits,
)
from fdsl_train.rng import seed_all

AUGMENTATION = Augmentation(img_size=16)


@pytest.fixture(scope="module")
def uneven_shards(labelled_shards):
    """3 shards of 7, 7 and 4 samples, 18 in all: no even split over 2 ranks x 2 workers."""
    assert [shard["samples"] for shard in json.loads((labelled_shards / "manifest.json").read_text())["shards"]] \
        == [7, 7, 4]
    return labelled_shards


def shard_source(folder, rank, workers=2, world_size=2, batch_size=2):
    return TrainSource(open_shards([str(folder)]), transform=AUGMENTATION.train_transform(), batch_size=batch_size,
                            rank=rank, world_size=world_size, workers=workers, seed=7, shuffle_buffer=5)


def batches(source, epoch, start_step=0):
    return [(images.clone(), labels.clone()) for images, labels in source.loader(epoch, start_step)]


def test_every_rank_gets_the_same_number_of_full_batches(uneven_shards):
    counts = []
    for rank in (0, 1):
        source = shard_source(uneven_shards, rank)
        assert source.steps_per_epoch == 18 // 4
        for epoch in (0, 1):
            epoch_batches = batches(source, epoch)
            counts.append(len(epoch_batches))
            assert all(images.shape == (2, 3, 16, 16) and images.dtype == torch.uint8 and len(labels) == 2
                       for images, labels in epoch_batches)
    assert counts == [4, 4, 4, 4]


def test_more_loader_slots_than_shards_still_fill_every_epoch(uneven_shards):
    for rank in (0, 1):  # 2 ranks x 3 workers: 6 streams over 3 shards
        assert len(batches(shard_source(uneven_shards, rank, workers=3, batch_size=1), epoch=0)) == 9


@pytest.mark.parametrize("start_step", [1, 2, 3])
def test_an_epoch_started_mid_way_continues_the_uninterrupted_one(uneven_shards, start_step):
    source = shard_source(uneven_shards, rank=1)
    whole = batches(source, epoch=3)
    resumed = batches(source, epoch=3, start_step=start_step)
    assert len(resumed) == len(whole) - start_step
    for (images, labels), (resumed_images, resumed_labels) in zip(whole[start_step:], resumed):
        assert torch.equal(labels, resumed_labels)
        assert torch.equal(images, resumed_images)


def test_epochs_and_ranks_see_different_data(uneven_shards):
    first = batches(shard_source(uneven_shards, rank=0), epoch=0)
    assert not torch.equal(first[0][0], batches(shard_source(uneven_shards, rank=0), epoch=1)[0][0])
    assert not torch.equal(first[0][0], batches(shard_source(uneven_shards, rank=1), epoch=0)[0][0])


def test_image_folder_epochs_restart_exactly(tmp_path):
    write_digits(tmp_path / "digits", image_size=16, val_fraction=0.5)
    folder = open_image_folder(tmp_path / "digits" / "val")
    source = TrainSource(folder, transform=AUGMENTATION.train_transform(), batch_size=8, rank=1, world_size=2,
                               workers=2, seed=3)
    whole = batches(source, epoch=2)
    assert len(whole) == source.steps_per_epoch == len(folder.samples) // 16
    resumed = batches(source, epoch=2, start_step=5)
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(whole[5:], resumed))


def test_digits_are_a_seeded_stratified_image_folder(tmp_path):
    counts = write_digits(tmp_path / "a", image_size=24, seed=1)
    write_digits(tmp_path / "b", image_size=24, seed=1)
    assert counts == {"train": 1437, "val": 360}
    train = open_image_folder(tmp_path / "a" / "train")
    assert train.classes == tuple(str(digit) for digit in range(10))
    val_names = sorted(path.relative_to(tmp_path / "a").as_posix() for path in (tmp_path / "a" / "val").rglob("*.png"))
    assert val_names == sorted(path.relative_to(tmp_path / "b").as_posix() for path in (tmp_path / "b" / "val").rglob("*.png"))
    image = Image.open(train.samples[0][0])
    assert image.size == (24, 24) and image.mode == "L"


def test_grayscale_images_augment_exactly_like_their_rgb_copies():
    pixels = np.random.default_rng(0).integers(0, 256, (40, 40), dtype=np.uint8)
    gray = Image.fromarray(pixels)
    rgb = gray.convert("RGB")
    grey_mean = (0.5, 0.5, 0.5)  # the pre-training recipe's; it makes RandAugment's fill colour grey
    transform = Augmentation(img_size=24, mean=grey_mean, std=(0.5, 0.5, 0.5)).train_transform()
    for seed in range(100):  # ~13 draws of each RandAugment op
        seed_all(seed)
        from_gray = transform(gray)
        seed_all(seed)
        assert torch.equal(from_gray, transform(rgb)), seed


def test_randaugment_posterize_at_full_magnitude_works_with_pillow_13():
    colour_stage = Augmentation(img_size=24).train_transform().transforms[1]
    posterize = next(op for op in colour_stage.transforms[0].ops if op.name == "PosterizeIncreasing")
    posterize.magnitude, posterize.magnitude_std, posterize.prob = 10, 0, 1.0  # asks for 0 bits
    for mode in ("L", "RGB"):
        image = Image.new(mode, (24, 24), 200 if mode == "L" else (200, 100, 50))
        assert np.array(posterize(image)).max() == 0  # all bits cleared, as Pillow < 13 did


@pytest.mark.parametrize("tar_format", [tarfile.USTAR_FORMAT, tarfile.PAX_FORMAT, tarfile.GNU_FORMAT])
def test_tar_reader_reads_what_tarfile_reads(tmp_path, tar_format):
    path = tmp_path / "shard.tar"
    names = ["s000001.png", "s000001.cls", "prefix/" * 20 + "deep.png", "ü" * 60 + ".json"]
    with tarfile.open(path, "w", format=tar_format) as archive:
        for index, name in enumerate(names):
            if tar_format == tarfile.USTAR_FORMAT and not name.isascii():
                continue  # ustar cannot hold it
            data = bytes(range(256)) * index + name.encode()
            member = tarfile.TarInfo(name)
            member.size = len(data)
            archive.addfile(member, io.BytesIO(data))
        directory = tarfile.TarInfo("folder")
        directory.type = tarfile.DIRTYPE
        archive.addfile(directory)
    with tarfile.open(path) as archive:
        expected = [(member.name, archive.extractfile(member).read()) for member in archive if member.isreg()]
    with open(path, "rb") as stream:
        assert list(tar_files(stream)) == expected


def test_incomplete_dataset_is_refused(search_only):
    with pytest.raises(InputError, match="status is 'search-only', not 'complete'"):
        open_shards([str(search_only)])


def test_manifest_shards_must_exist(uneven_shards, tmp_path):
    folder = shutil.copytree(uneven_shards, tmp_path / "va")
    (folder / "visualatom-000001.tar").unlink()
    with pytest.raises(InputError, match="missing"):
        open_shards([str(folder)])


def test_shard_lists_take_counts_from_the_command_line(uneven_shards):
    pattern = str(uneven_shards / "visualatom-{000000..000002}.tar")
    with pytest.raises(InputError, match="--num-classes and --num-samples"):
        open_shards([pattern])
    shards = open_shards([pattern], num_classes=3, num_samples=18)
    assert len(shards.urls) == 3 and shards.num_samples == 18
    manifest = json.loads((uneven_shards / "manifest.json").read_text())
    with pytest.raises(InputError, match="contradicts the manifest"):
        open_shards([str(uneven_shards)], num_classes=manifest["num_classes"] + 1)


def test_unlabelled_sets_serve_contrastive_training_only(deadleaves_shards, spectrum_shards):
    for folder, samples in ((deadleaves_shards, 32), (spectrum_shards, 16)):
        with pytest.raises(InputError, match="unlabelled"):
            open_shards([str(folder)])
        images = open_unlabelled([str(folder)])
        assert not images.labelled and images.num_samples == samples
    with pytest.raises(InputError, match="--num-samples"):
        open_unlabelled([str(deadleaves_shards / "deadleaves-{000000..000003}.tar")])
    assert open_unlabelled([str(deadleaves_shards / "deadleaves-{000000..000003}.tar")], num_samples=32).num_samples == 32


def test_image_folders_for_contrastive_training_may_be_flat_or_have_classes(tmp_path):
    write_digits(tmp_path / "digits", image_size=16, val_fraction=0.5)
    with_classes = open_unlabelled([str(tmp_path / "digits" / "val")])
    flat = tmp_path / "flat"
    flat.mkdir()
    for path, _ in with_classes.samples[:5]:
        shutil.copy(path, flat / f"{Path(path).parent.name}-{Path(path).name}")
    assert open_unlabelled([str(flat)]).num_samples == 5
    assert with_classes.num_samples == 899
    with pytest.raises(InputError, match="neither an fdsl shard folder"):
        open_unlabelled([str(tmp_path / "digits")])  # it holds train/<class>/..., two levels down


def test_two_views_are_independent_draws_and_resume_exactly(deadleaves_shards):
    augmentation = ContrastiveAugmentation(img_size=16)
    source = TrainSource(open_unlabelled([str(deadleaves_shards)]), transform=augmentation.train_transform(),
                         batch_size=4, rank=0, world_size=1, workers=2, seed=1, shuffle_buffer=5)
    whole = batches(source, epoch=0)
    assert len(whole) == 8 and whole[0][0].shape == (4, 2, 3, 16, 16) and whole[0][0].dtype == torch.uint8
    assert all(not torch.equal(views[:, 0], views[:, 1]) for views, _ in whole)
    resumed = batches(source, epoch=0, start_step=3)
    assert all(torch.equal(a[0], b[0]) for a, b in zip(whole[3:], resumed))


def test_grayscale_images_take_two_views_exactly_like_their_rgb_copies():
    pixels = np.random.default_rng(1).integers(0, 256, (40, 40), dtype=np.uint8)
    gray = Image.fromarray(pixels)
    transform = ContrastiveAugmentation(img_size=24).train_transform()
    for seed in range(60):  # colour jitter, grayscale and blur each drawn ~half the time or more
        seed_all(seed)
        from_gray = transform(gray)
        seed_all(seed)
        assert torch.equal(from_gray, transform(gray.convert("RGB"))), seed


@pytest.mark.parametrize("hue_factor", [0.1, -0.37])
def test_hue_kernel_matches_torchvision_on_every_rgb_colour(hue_factor):
    from torchvision.transforms import functional

    from fdsl_train.data import shift_hue

    every = np.arange(2**24, dtype=np.uint32)
    colours = np.stack([every >> 16, (every >> 8) & 255, every & 255], axis=-1).astype(np.uint8)
    image = Image.fromarray(colours.reshape(4096, 4096, 3))
    ours, theirs = np.asarray(shift_hue(image, hue_factor)), np.asarray(functional.adjust_hue(image, hue_factor))
    assert (ours != theirs).any(axis=-1).sum() == 0
    assert (ours != colours.reshape(4096, 4096, 3)).any()  # the hue did move


def test_colour_jitter_gives_torchvision_pixels_from_the_same_draws():
    from torchvision import transforms

    from fdsl_train.data import ColorJitter

    image = Image.fromarray(np.random.default_rng(2).integers(0, 256, (48, 48, 3), dtype=np.uint8))
    ours, theirs = ColorJitter(0.4, 0.4, 0.4, 0.1), transforms.ColorJitter(0.4, 0.4, 0.4, 0.1)
    for seed in range(30):
        seed_all(seed)
        jittered = np.asarray(ours(image))
        seed_all(seed)
        assert np.array_equal(jittered, np.asarray(theirs(image))), seed


class ReferenceBlur:
    """The documented Gaussian blur step on PIL images: its draws, OpenCV's kernel."""

    def __init__(self, p):
        self.p = p

    def __call__(self, image):
        if torch.rand(1).item() >= self.p:
            return image
        sigma = torch.empty(1).uniform_(0.1, 2.0).item()
        return Image.fromarray(cv2.GaussianBlur(np.asarray(image), (0, 0), sigmaX=sigma), image.mode)


def torchvision_view(augmentation):
    """The view transform as torchvision composes it on PIL images (the reference pipeline)."""
    from timm.data.transforms import str_to_interp_mode
    from torchvision import transforms

    strength = augmentation.color_jitter
    return transforms.Compose([
        transforms.RandomResizedCrop(augmentation.img_size, scale=(augmentation.scale_min, 1.0),
                                     interpolation=str_to_interp_mode(augmentation.interpolation)),
        transforms.RandomApply([transforms.ColorJitter(strength, strength, strength, augmentation.hue)],
                               p=augmentation.jitter_prob),
        *([transforms.RandomGrayscale(augmentation.grayscale_prob)] if augmentation.grayscale_prob else []),
        *([ReferenceBlur(augmentation.blur_prob)] if augmentation.blur_prob else []),
        transforms.RandomHorizontalFlip(augmentation.hflip),
        lambda image: transforms.functional.pil_to_tensor(image).expand(3, -1, -1),
    ])


@pytest.fixture(scope="module")
def dead_leaves_256(tmp_path_factory):
    """Three 256 px dead-leaves PNGs (the images of bench/moco_input_pipeline.py), encoded."""
    from conftest import fdsl_gen

    folder = fdsl_gen(tmp_path_factory.mktemp("dl256") / "dl", "deadleaves", "--shape", "mixed", "--images", 3,
                      "--image-size", 256, "--shard-size", 3)
    return [sample["png"] for sample in read_shard(str(next(folder.glob("*.tar"))))]


@pytest.mark.parametrize("augmentation", [
    ContrastiveAugmentation(img_size=48),
    ContrastiveAugmentation(img_size=48, scale_min=0.08, hue=0.4, jitter_prob=1.0, blur_prob=0.0),  # align-uniform's
    ContrastiveAugmentation(img_size=40, interpolation="bicubic", grayscale_prob=0.5),
    ContrastiveAugmentation(img_size=40, interpolation="nearest"),
], ids=["aug+", "align-uniform", "bicubic", "nearest"])
def test_views_are_torchvisions_pixel_for_pixel(augmentation):
    """The array pipeline draws what torchvision's PIL pipeline draws and gives its pixels, on
    RGB and grey images, up- and downscaled crops."""
    rng = np.random.default_rng(5)
    rgb = rng.integers(0, 256, (56, 64, 3), dtype=np.uint8)
    rgb[10:40, 5:50] = (200, 30, 90)  # a flat patch: runs of equal pixels
    ours, reference = augmentation.view_transform(), torchvision_view(augmentation)
    for pixels in (rgb, rgb[:, :, 1]):
        image = Image.fromarray(pixels)
        for seed in range(40):
            seed_all(seed)
            view = ours(pixels)
            seed_all(seed)
            assert torch.equal(view, reference(image)), seed


def test_views_of_dead_leaves_at_224_px_are_torchvisions(dead_leaves_256):
    augmentation = ContrastiveAugmentation()
    ours, reference = augmentation.train_transform(), torchvision_view(augmentation)
    for index, encoded in enumerate(dead_leaves_256):
        for seed in range(12):
            seed_all(seed)
            views = ours(ours.decode(encoded))
            seed_all(seed)
            image = load_image(encoded)
            assert torch.equal(views, torch.stack([reference(image), reference(image)])), (index, seed)


def test_opencv_decodes_pngs_as_pillow_does_and_other_images_go_through_pillow(tmp_path, dead_leaves_256):
    from fdsl_train.data import load_pixels, to_pixels

    rng = np.random.default_rng(6)
    rgb = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    images = {
        "rgb.png": Image.fromarray(rgb), "grey.png": Image.fromarray(rgb[:, :, 0]),
        "rgba.png": Image.fromarray(np.dstack([rgb, rgb[:, :, :1]])), "palette.png": Image.fromarray(rgb).quantize(16),
        "grey16.png": Image.fromarray(rgb[:, :, 0].astype(np.uint16) * 257), "photo.jpg": Image.fromarray(rgb),
    }
    for name, image in images.items():
        image.save(tmp_path / name)
        expected = to_pixels(load_image(str(tmp_path / name)))
        for source in (str(tmp_path / name), (tmp_path / name).read_bytes()):
            pixels = load_pixels(source)
            assert pixels.dtype == np.uint8 and pixels.shape == expected.shape and np.array_equal(pixels, expected), name
    assert to_pixels(load_image(str(tmp_path / "grey.png"))).shape == (20, 30, 1)
    for encoded in dead_leaves_256:
        assert np.array_equal(load_pixels(encoded), np.asarray(load_image(encoded)))


def test_loader_workers_run_opencv_on_one_thread_after_this_process_used_its_pool(deadleaves_shards):
    cv2.GaussianBlur(np.zeros((256, 256, 3), np.uint8), (0, 0), sigmaX=2.0)  # starts OpenCV's thread pool here
    source = TrainSource(open_unlabelled([str(deadleaves_shards)]), transform=lambda image: torch.tensor(cv2.getNumThreads()),
                         batch_size=4, workers=2, seed=0)
    assert all(threads.eq(1).all() for threads, _ in source.loader(epoch=0))  # and no worker deadlocks
