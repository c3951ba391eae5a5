"""Small runs of every family give the shards and manifest recorded here, byte for byte.

The hashes were recorded before the family contract refactoring (issue 16) and guard the
output against unintended change. (fractaldb-search-patch was recorded again in issue 14:
its .json members hold mask_key as a decimal string, so that Arrow and HF datasets can read
it; the pixels did not change.) FractalDB, VisualAtom and untextured dead leaves are strict
integer / float64 arithmetic and the PNG encoder is the pinned OpenCV wheel's, so these bytes
are the same on any machine. (The statistical models are not listed: their float32 FFT and
LAPACK rounding can follow the CPU; see the README.) Run this file as a script to print the
hashes of the current code.
"""
import hashlib
import sys

import pytest

from fdsl_cli import read_shards, run_cli

COMMON = ["--workers", 1, "--quiet"]
COMMANDS = {
    "fractaldb-search-patch": ["fractaldb", "--classes", 2, "--filling-rate", 0.05, "--seed", 3,
                               "--search-points", 20000, "--points", 3000, "--image-size", 48,
                               "--instances", 12, "--shard-size", 8],
    "fractaldb-search-point": ["fractaldb", "--classes", 2, "--filling-rate", 0.05, "--seed", 5,
                               "--search-points", 20000, "--points", 3000, "--image-size", 40,
                               "--draw", "point", "--instances", 9, "--shard-size", 8, "--name", "fdb"],
    "visualatom-native": ["visualatom", "--classes", 3, "--instances", 4, "--image-size", 48,
                          "--vertex-num-max", 300, "--line-num-max", 20, "--seed", 7, "--shard-size", 5],
    "visualatom-replay": ["visualatom", "--mode", "replay", "--threads", 2, "--classes", 4,
                          "--instances", 3, "--image-size", 48, "--line-num-max", 10, "--shard-size", 5],
    "deadleaves-mixed": ["deadleaves", "--shape", "mixed", "--images", 10, "--image-size", 48,
                         "--seed", 11, "--shard-size", 4],
    "deadleaves-oriented": ["deadleaves", "--shape", "oriented", "--images", 3, "--image-size", 32],
}
EXPECTED = {
    'deadleaves-mixed': {
        'deadleaves-000000.tar': '3bd0e51656cc1074b2ccba3aecbf83b9370ada12395dd712b9171444549b1af4',
        'deadleaves-000001.tar': 'ef803c0479a51401855b330721d2e8a1f7350648494f1cfb137a213a6ba8d8a4',
        'deadleaves-000002.tar': '8baf6118bfc6ce3009048ac965fbc3b6cc450c7423c55d6828a9eec935faf65c',
        'manifest.json': 'b7645ba0c1d0edd14757bad02ddf3637bc90ecf8e9ec99e9c7543af157533fa7',
    },
    'deadleaves-oriented': {
        'deadleaves-000000.tar': '6a023fe1f37384b4ee3ccb9b58b3903e210cb71acefb83c7e2cdaac97b24ecbb',
        'manifest.json': '305a8484a05fb75abec0f6b23daee8ff3f332ae98976ad81dba4a95c75155957',
    },
    'fractaldb-search-patch': {
        'fractaldb-000000.tar': '43be00ed7c43e538c08aec968f43a2f9f485700ade9843fcde75b32abd7ac447',
        'fractaldb-000001.tar': '15392961e5f0fb37174651ce74eae268640288cad80d36204368f2dbe935ec80',
        'fractaldb-000002.tar': '994a9d09311794f329bfbe797117ecbfc2ba964b8a601ef38da1076232bb9ce3',
        'manifest.json': 'c3b4e69eeea57b5acf91bec3a0686607bec37239386c6a7de4805d88de87449f',
    },
    'fractaldb-search-point': {
        'fdb-000000.tar': '2418e0dfde55c30431d2a5d3adba0a6d2920676e4ea6377b9c875467e2553dc2',
        'fdb-000001.tar': '6e85e7dc46251789bbb7735c6562b4e63c727524054eb539256c47153b32b5cc',
        'fdb-000002.tar': '54c38c25b5e100f5e4c67638a9e1094bed9fa3ad65d7c54a7331c75daf92aad0',
        'manifest.json': 'dc3510f866bd0a6b246d2c5756dda2640adade006a3fe1f42dd265c85967c452',
    },
    'visualatom-native': {
        'visualatom-000000.tar': '97ae79d99b329a89bde2bb6a9467c61023cca3b87a88b984a12c244ffec64c67',
        'visualatom-000001.tar': '24c13b3834b10df5118a57c52e2e294480a4c0652f5ce58483bb64b7d103270b',
        'visualatom-000002.tar': '5350060642bc468e4b3a9598d69229f44914667e0ca6d5ce50a26a57d82d90f1',
        'manifest.json': '5b3995eefe3066b79e191773bf491e739e71c56cce2de3a59e2670ba28a763b3',
    },
    'visualatom-replay': {
        'visualatom-000000.tar': '4b2709f4c12309ef902e1a980c71c071ae3130ae1d67333521ba2eebcc265d20',
        'visualatom-000001.tar': 'c9231b2006977a06186848cb213dc6ad4ad0375a907ed4a0db163fc79220cd47',
        'visualatom-000002.tar': '7ffd698cf269ce4e78c5adf89140e2ea0ddf68271915d0539b67490171fff688',
        'visualatom-000003.tar': '7d7d8aa459cc62c7882a025a2f417c08b909d092ed3a710e85232f898e459a29',
        'manifest.json': '8123aa402ca143ed03a5d452b3114546f06206982cf8ab08265a0902a4c37dd3',
    },
}


def output_hashes(capsys, out, args):
    code, _, stderr = run_cli(capsys, *args, *COMMON, "--out", out)
    assert code == 0, stderr
    files = dict(read_shards(out), **{"manifest.json": (out / "manifest.json").read_bytes()})
    return {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_output_is_unchanged(capsys, tmp_path, name):
    assert output_hashes(capsys, tmp_path / name, COMMANDS[name]) == EXPECTED[name]


if __name__ == "__main__":  # print the current hashes, to record them above
    import pathlib
    import tempfile

    class Capture:
        def readouterr(self):
            return type("Captured", (), {"out": "", "err": ""})()

    with tempfile.TemporaryDirectory() as tmp:
        for name in sorted(COMMANDS):
            print(f"    {name!r}: {output_hashes(Capture(), pathlib.Path(tmp) / name, COMMANDS[name])!r},")
    sys.exit(0)
