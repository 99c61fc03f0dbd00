"""CPU stand-ins for running the real IMavatar code without CUDA (tests only; put this folder first on PYTHONPATH).

``Tensor.cuda``/``Module.cuda`` return the CPU object unchanged when CUDA is not available; the neighbouring
``torchvision`` package stands in for a torchvision matching a CPU-only torch (IMavatar imports only make_grid).
"""

import torch

if not torch.cuda.is_available():
    torch.Tensor.cuda = lambda self, *a, **k: self
    torch.nn.Module.cuda = lambda self, *a, **k: self
