class Meshes:
    def __init__(self, verts, faces):
        self._verts, self._faces = verts, faces

    def verts_padded(self):
        return self._verts

    def faces_padded(self):
        return self._faces
