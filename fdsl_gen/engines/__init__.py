"""Engines run shard tasks: base.py is the interface, local.py a process pool on this machine,
ray.py Ray tasks on a Ray cluster (an optional extra)."""
