"""fdsl_gen: render formula-driven pre-training datasets into WebDataset shards."""

__version__ = "0.1.0"
