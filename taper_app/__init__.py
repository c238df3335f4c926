"""Steroid Taper Tracker: records and figures for a protocol-specified steroid taper."""

__version__ = "0.1.0"
