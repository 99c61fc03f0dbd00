"""Stand-in (tests only) for the few PyTorch3D functions FlashAvatar calls."""
