"""CPU reference methods: the floor any real avatar method must beat on every protocol."""
