"""Stand-in for torchvision on a CPU-only torch (tests only): just ``torchvision.utils.make_grid``."""

from . import utils  # noqa: F401
