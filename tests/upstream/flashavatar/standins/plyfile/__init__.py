class PlyData:  # stand-in (tests only): FlashAvatar imports these names; training never writes a .ply
    pass


class PlyElement:
    pass
