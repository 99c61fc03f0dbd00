"""The method registry: built-in reference methods, wrapped upstream methods and third-party plugins."""
