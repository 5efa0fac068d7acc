"""Sampling noise for action sequences: white, or coloured over time as in iCEM."""

from __future__ import annotations

import numpy as np

__all__ = ["coloured_noise"]


def coloured_noise(rng: np.random.Generator, beta: float, size: tuple[int, ...]) -> np.ndarray:
    """Gaussian noise of shape ``size = (..., T, D)`` with power spectrum ~ 1/f^beta along ``T``.

    beta = 0 is white noise; beta = 2 (as in iCEM) gives smooth, wandering signals. Each series over
    ``T`` is scaled to unit standard deviation, so beta changes the shape of the noise, not its size.
    float32, the precision actions are imagined in.
    """
    if beta == 0.0:
        return rng.standard_normal(size, dtype=np.float32)
    *lead, steps, dims = size
    freqs = np.fft.rfftfreq(steps)
    scale = np.ones_like(freqs)
    scale[1:] = freqs[1:] ** (-beta / 2.0)
    scale[0] = scale[1] if steps > 1 else 1.0
    shape = (*lead, freqs.size, dims)
    spectrum = scale[:, None] * (rng.standard_normal(shape) + 1j * rng.standard_normal(shape))
    signal: np.ndarray = np.fft.irfft(spectrum, n=steps, axis=-2)
    return np.asarray(signal / (signal.std(axis=-2, keepdims=True) + 1e-12), dtype=np.float32)
