"""chatops: maintenance windows that know when the world is watching."""

__version__ = "0.1.0"
