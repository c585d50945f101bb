"""A student's CNN package: its layers import their helpers relatively (from .im2col import ...)."""
