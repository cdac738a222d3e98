"""videx: find, keep and measure video evidence for shootings."""

__version__ = "0.1.0"
