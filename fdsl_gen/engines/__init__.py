"""Engines run shard tasks. The local engine is a process pool on this machine."""
