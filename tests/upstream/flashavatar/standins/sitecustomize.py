"""Stand-in (tests only): CUDA calls of the FlashAvatar code run on the CPU when torch has no CUDA."""

import functools

import torch

if not torch.cuda.is_available():

    def _cpu(d):
        return "cpu" if d is not None and str(d).startswith("cuda") else d

    torch.Tensor.cuda = lambda self, *a, **k: self
    torch.nn.Module.cuda = lambda self, *a, **k: self

    def _wrap_to(orig):
        @functools.wraps(orig)
        def to(self, *args, **kw):
            args = tuple(_cpu(a) if isinstance(a, (str, torch.device)) else a for a in args)
            if "device" in kw:
                kw["device"] = _cpu(kw["device"])
            return orig(self, *args, **kw)

        return to

    torch.Tensor.to = _wrap_to(torch.Tensor.to)
    torch.nn.Module.to = _wrap_to(torch.nn.Module.to)

    def _wrap_factory(orig):
        @functools.wraps(orig)
        def make(*args, **kw):
            if "device" in kw:
                kw["device"] = _cpu(kw["device"])
            return orig(*args, **kw)

        return make

    for _name in (
        "zeros",
        "ones",
        "empty",
        "tensor",
        "zeros_like",
        "ones_like",
        "full",
        "arange",
        "eye",
        "as_tensor",
    ):
        setattr(torch, _name, _wrap_factory(getattr(torch, _name)))
