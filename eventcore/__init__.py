"""The shared core: event dtype, AEDAT 2.0/3.1 readers, labels, frames, windows, geometry, decisions, errors.

Depends on numpy only; both ``model`` (network, training) and ``app`` stand on it.
"""
