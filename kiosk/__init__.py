"""A scanner kiosk for Diia one-time document codes."""

__version__ = "0.1.0"
