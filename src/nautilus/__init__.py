"""Nautilus: self-hosted quantitative trading research, risk and paper-trading platform."""

__version__ = "0.1.0"
