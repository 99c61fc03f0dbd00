"""Small torch shims imported by patched upstream code (importable without a GPU or PyTorch3D)."""
