"""NES-Bench: a benchmark harness for novel expression synthesis with monocular 4D head avatars."""

__version__ = "0.1.0"
