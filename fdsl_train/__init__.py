"""fdsl_train: pre-train and fine-tune timm models on fdsl-gen WebDataset shards."""


class InputError(Exception):
    """Bad user input (missing data, incompatible checkpoint, unknown model, ...).

    The command line reports it as one line on stderr and exits with status 2.
    """
