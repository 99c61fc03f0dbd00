"""NeRFace's named, idempotent compatibility patches (Python 3.11+, PyTorch 2.x, NumPy 2, scikit-image >= 0.19).

Paths are relative to the checkout's code folder ``nerface_code/nerf-pytorch``. Each patch was found by reading or
running the pinned commit on today's stack; docs/UPSTREAM.md lists them with the reason.
"""

from __future__ import annotations

from nesbench.upstream.patches import Edit, Patch, _torch_load

TRAIN = "train_transformed_rays.py"
HELPERS = "nerf/nerf_helpers.py"

PATCHES: tuple[Patch, ...] = (
    Patch(
        "torch-searchsorted",
        "nerface",
        "torch.searchsorted instead of the unbuilt torchsearchsorted extension (README: 'implemented in pytorch')",
        (
            Edit(
                HELPERS, "import torchsearchsorted\n", "# nesbench: torchsearchsorted -> torch.searchsorted\n"
            ),
            Edit(
                HELPERS,
                "    inds = torchsearchsorted.searchsorted(\n"
                '        cdf.contiguous(), u.contiguous(), side="right"\n'
                "    )\n",
                "    inds = torch.searchsorted(cdf.contiguous(), u.contiguous(), right=True)  # nesbench\n",
            ),
        ),
    ),
    Patch(
        "pytorch3d-optional",
        "nerface",
        "PyTorch3D only for the unused axis-angle ray bundle: import it lazily (NeRFace needs no extension)",
        (
            Edit(
                HELPERS,
                "import pytorch3d.transforms\n",
                "try:  # nesbench: only get_ray_bundle_axis_angles needs it\n"
                "    import pytorch3d.transforms\n"
                "except ImportError:\n"
                "    pytorch3d = None\n",
            ),
        ),
    ),
    Patch(
        "torch-meshgrid-indexing",
        "nerface",
        "torch.meshgrid(..., indexing='ij'): the 1.x default made explicit (same values, no warning)",
        (
            Edit(
                HELPERS,
                "    ii, jj = torch.meshgrid(tensor1, tensor2)\n",
                "    ii, jj = torch.meshgrid(tensor1, tensor2, indexing='ij')  # nesbench\n",
            ),
        ),
    ),
    Patch(
        "skimage-metrics",
        "nerface",
        "scikit-image >= 0.16 moved compare_ssim/compare_psnr to skimage.metrics; multichannel -> channel_axis",
        (
            Edit(
                "nerf/metrics.py",
                "from skimage.measure import compare_ssim, compare_psnr\n",
                "from skimage.metrics import structural_similarity as compare_ssim  # nesbench\n"
                "from skimage.metrics import peak_signal_noise_ratio as compare_psnr  # nesbench\n",
            ),
            Edit(
                "nerf/metrics.py",
                "compare_ssim(im1,im2, multichannel=True)",
                "compare_ssim(im1,im2, channel_axis=-1)",
            ),
        ),
    ),
    Patch(
        "no-tensorboard",
        "nerface",
        "tensorboard is not installed: a no-op SummaryWriter (the harness logs the printed losses)",
        (
            Edit(
                TRAIN,
                "from torch.utils.tensorboard import SummaryWriter\n",
                "from nesbench.upstream.shims.null_writer import SummaryWriter  # nesbench: no tensorboard\n",
            ),
        ),
    ),
    Patch(
        "no-torchvision",
        "nerface",
        "torchvision (must match torch) only converted log images: ToPILImage's float->uint8 (x*255, truncated) "
        "in plain torch",
        (
            Edit(TRAIN, "import torchvision\n", "# nesbench: torchvision not needed\n"),
            Edit(
                TRAIN,
                "    img = np.array(torchvision.transforms.ToPILImage()(tensor.detach().cpu()))\n",
                "    img = tensor.detach().cpu().mul(255).byte().permute(1, 2, 0).numpy()  # nesbench\n",
            ),
        ),
    ),
    Patch(
        "volume-render-no-inplace",
        "nerface",
        "the background sample's +1e-6 density without an in-place edit of relu's output (PyTorch 2.x autograd "
        "refuses the backward pass); same values",
        (
            Edit(
                "nerf/volume_rendering_utils.py",
                "    sigma_a[:,-1] += 1e-6 # todo commented this for FCB demo !!!!!!\n",
                "    sigma_a = torch.cat((sigma_a[:, :-1], sigma_a[:, -1:] + 1e-6), dim=-1)  # nesbench: was in-place\n",
            ),
        ),
    ),
    Patch(
        "torch-load-weights-only",
        "nerface",
        "torch.load(weights_only=False) for the trusted local checkpoints",
        (_torch_load(TRAIN, 4),),
    ),
    Patch(
        "resume-keeps-optimised-tensors",
        "nerface",
        "--load-checkpoint: copy latent codes and background into the tensors the optimizer holds (upstream made "
        "new Parameters, so resumed runs froze the codes) and continue after the saved iteration",
        (
            Edit(
                TRAIN,
                "            latent_codes = torch.nn.Parameter(checkpoint['latent_codes'].to(device))\n",
                "            latent_codes.data.copy_(checkpoint['latent_codes'].to(device))  # nesbench\n",
            ),
            Edit(
                TRAIN,
                "            background = torch.nn.Parameter(checkpoint['background'].to(device))\n",
                "            background.data.copy_(checkpoint['background'].to(device))  # nesbench\n",
            ),
            Edit(
                TRAIN,
                '        start_iter = checkpoint["iter"]\n',
                '        start_iter = checkpoint["iter"] + 1  # nesbench: the saved step is done\n',
            ),
        ),
    ),
)
