class LPIPS:  # stand-in (tests only): the test trains with the LPIPS loss off
    def __init__(self, *a, **k):
        raise RuntimeError("lpips stand-in: the LPIPS-VGG loss needs the real package")
