"""Datasets in the RenderMe-360 NES layout: paths and validation."""
