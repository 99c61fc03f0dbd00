"""load_obj for OBJ files with v, vt and f a/ta b/tb c/tc lines (FlashAvatar's FlameMesh.obj layout)."""

from types import SimpleNamespace

import torch


def load_obj(path, load_textures=True):
    verts, uvs, fv, ft = [], [], [], []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if not parts:
                continue
            if parts[0] == "v":
                verts.append([float(x) for x in parts[1:4]])
            elif parts[0] == "vt":
                uvs.append([float(x) for x in parts[1:3]])
            elif parts[0] == "f":
                corners = [p.split("/") for p in parts[1:4]]
                fv.append([int(c[0]) - 1 for c in corners])
                ft.append([int(c[1]) - 1 if len(c) > 1 and c[1] else -1 for c in corners])
    faces = SimpleNamespace(verts_idx=torch.tensor(fv), textures_idx=torch.tensor(ft))
    aux = SimpleNamespace(verts_uvs=torch.tensor(uvs, dtype=torch.float32))
    return torch.tensor(verts, dtype=torch.float32), faces, aux
