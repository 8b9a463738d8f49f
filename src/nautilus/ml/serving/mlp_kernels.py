"""Numba kernel for one row through a dense MLP stored as flat arrays (NumPy arrays only, no I/O).

``layers`` is (n_layers, 5) int64: input width, output width, weight offset, bias offset,
activation code; weights are row-major (out, in) blocks of ``weights``, biases follow them.
``params`` holds each layer's activation parameter (LeakyReLU's negative slope).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

IDENTITY, RELU, LEAKY_RELU, TANH, SIGMOID, GELU, GELU_TANH = range(7)
SQRT_HALF = math.sqrt(0.5)
SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


@njit(cache=True, inline="always")
def activate_nb(z: float, code: int, param: float) -> float:
    """One activation (codes above) applied to ``z``; formulas as torch's float64 kernels."""
    if code == RELU:
        return 0.0 if z <= 0.0 else z
    if code == LEAKY_RELU:
        return z * param if z <= 0.0 else z
    if code == TANH:
        return math.tanh(z)
    if code == SIGMOID:
        return 1.0 / (1.0 + math.exp(-z))
    if code == GELU:
        return 0.5 * z * (1.0 + math.erf(z * SQRT_HALF))
    if code == GELU_TANH:
        return 0.5 * z * (1.0 + math.tanh(SQRT_2_OVER_PI * (z + 0.044715 * z * z * z)))
    return z


@njit(cache=True, boundscheck=False)
def mlp_one_nb(x: np.ndarray, weights: np.ndarray, layers: np.ndarray, params: np.ndarray,
               width: int) -> np.ndarray:
    """Output of the last layer (before the output transform) for one row ``x``."""
    a = np.empty(width)
    b = np.empty(width)
    for j in range(x.shape[0]):
        a[j] = x[j]
    n_out = x.shape[0]
    for layer in range(layers.shape[0]):
        n_in, n_out, w_off, b_off, code = layers[layer]
        param = params[layer]
        for o in range(n_out):
            s = weights[b_off + o]
            row = w_off + o * n_in
            for j in range(n_in):
                s += weights[row + j] * a[j]
            b[o] = activate_nb(s, code, param)
        a, b = b, a
    return a[:n_out].copy()
