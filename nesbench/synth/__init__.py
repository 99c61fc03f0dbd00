"""Synthetic stand-ins: a FLAME-structured head model and subjects rendered in the NES layout."""
