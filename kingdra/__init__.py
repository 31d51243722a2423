"""Kingdra: unsupervised clustering with pseudo-semi-supervised learning (ICLR 2020)."""

__version__ = "0.1.0"
