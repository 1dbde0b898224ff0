"""deskline: a desk-side assistant that holds a hotline call to its service standard."""

__version__ = "0.1.0"
