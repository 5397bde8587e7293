"""radshield: secure a radiology practice's imaging estate."""

__version__ = "0.1.0"
