"""Assets the methods need: FLAME conversion and installation."""
