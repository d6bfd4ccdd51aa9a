r"""Exact integers from their residues: word-sized primes and the Chinese remainder theorem.

R4's tree counts :math:`N(n, k)` reach 1,500 bits at depth 200, and their recurrence needs
millions of products of such integers. :mod:`theorems.counting` therefore runs the recurrence
once per prime :math:`p_1, \dots, p_L` (all primes side by side in numpy ``int64`` lanes) and
rebuilds each count from its residues. By the Chinese remainder theorem an integer
:math:`0 \le x < M = p_1 \cdots p_L` is determined by :math:`x \bmod p_i`; Garner's algorithm
gives its mixed-radix digits :math:`0 \le d_i < p_i` with

.. math::

    x = d_1 + p_1 \bigl(d_2 + p_2 (d_3 + \dots + p_{L-1} d_L)\bigr),

each digit from the previous ones modulo one prime, so all arithmetic but the final Horner
sum stays in machine words.

>>> primes = primes_below(2**20, 3)
>>> x = 123456789012345
>>> int(reconstruct(np.array([x % p for p in primes]), primes))
123456789012345
"""

import functools
import math

import numpy as np

__all__ = ["lane_prime_bits", "primes_below", "primes_for_bits", "reconstruct"]

_WITNESSES = (2, 3, 5, 7)  # Miller-Rabin with these bases is exact below 3,215,031,751


def _is_prime(n: int) -> bool:
    """Deterministic Miller-Rabin for ``n`` < 3,215,031,751 (bases 2, 3, 5, 7)."""
    if n < 2 or any(n % q == 0 for q in _WITNESSES):
        return n in _WITNESSES
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for a in _WITNESSES:
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


@functools.lru_cache(maxsize=None)
def primes_below(bound: int, count: int) -> tuple[int, ...]:
    """The ``count`` largest primes below ``bound`` (at most 2**31), in decreasing order.

    >>> primes_below(20, 3)
    (19, 17, 13)
    """
    if not 2 < bound <= 2**31:
        raise ValueError(f"bound must be in (2, 2**31], got {bound}")
    primes, n = [], bound - 1
    while len(primes) < count and n >= 2:
        if _is_prime(n):
            primes.append(n)
        n -= 1
    if len(primes) < count:
        raise ValueError(f"there are fewer than {count} primes below {bound}")
    return tuple(primes)


def lane_prime_bits(terms: int) -> int:
    """The largest ``b`` such that a sum of ``terms`` products of residues below ``2**b`` fits
    in a signed 64-bit integer: ``terms * 2**(2b) < 2**63``.

    >>> lane_prime_bits(200)
    27
    """
    return min(31, (63 - math.ceil(math.log2(terms + 1))) // 2)


def primes_for_bits(bits: float, prime_bits: int) -> tuple[int, ...]:
    """Primes below ``2**prime_bits`` whose product exceeds ``2**bits``.

    >>> math.prod(primes_for_bits(100, 27)) > 2**100
    True
    """
    count = max(1, math.ceil(bits / (prime_bits - 1)))
    primes = primes_below(2**prime_bits, count)
    while math.log2(math.prod(primes)) <= bits:
        count += 1
        primes = primes_below(2**prime_bits, count)
    return primes


def reconstruct(residues: np.ndarray, primes, log2_bounds=None) -> np.ndarray:
    """The integers ``0 <= x < prod(primes)`` with ``x % primes[i] == residues[..., i]``.

    ``residues`` is an int64 array whose last axis runs over ``primes`` (each below
    ``2**31``); the result is an object array of Python ints with the other axes. With
    ``log2_bounds`` (same shape as the result; ``x < 2**log2_bounds``), each integer uses only
    the first primes whose product exceeds its bound: its later mixed-radix digits are zero.
    """
    primes = [int(p) for p in primes]
    residues = np.asarray(residues, dtype=np.int64)
    flat = residues.reshape(-1, len(primes))
    needed = _primes_needed(primes, log2_bounds, flat.shape[0])
    order = np.argsort(-needed, kind="stable")
    flat = flat[order]
    active = [int(np.count_nonzero(needed > i)) for i in range(len(primes))]
    digits = _garner_digits(flat, primes, active)
    total = np.zeros(flat.shape[0], dtype=object)
    for i in reversed(range(0, len(primes), 2)):  # two digits a step: d_i + p_i d_{i+1} < 2**62
        rows, radix = active[i], math.prod(primes[i : i + 2])
        pair = digits[i].copy()
        if i + 1 < len(primes):
            pair[: active[i + 1]] += primes[i] * digits[i + 1]
        total[:rows] = total[:rows] * radix + pair.astype(object)
    result = np.empty_like(total)
    result[order] = total
    return result.reshape(residues.shape[:-1])


def _primes_needed(primes: list[int], log2_bounds, count: int) -> np.ndarray:
    """How many leading primes each integer needs: the fewest whose product exceeds it."""
    if log2_bounds is None:
        return np.full(count, len(primes))
    cumulative = np.cumsum(np.log2(primes))
    bounds = np.asarray(log2_bounds, dtype=np.float64).reshape(-1)
    if not np.all(bounds < cumulative[-1]):
        raise ValueError("the primes' product does not exceed every bound")
    return np.searchsorted(cumulative, bounds, side="right") + 1


def _garner_digits(residues: np.ndarray, primes: list[int], active: list[int]) -> list:
    r"""Mixed-radix digits of the first ``active[t]`` rows for each prime ``t`` (rows sorted by
    need): :math:`d_t = (r_t - x_t) (p_1 \cdots p_{t-1})^{-1} \bmod p_t`, where
    :math:`x_t = \sum_{u<t} d_u (p_1 \cdots p_{u-1} \bmod p_t)` is the value of the digits
    found so far, accumulated for every later prime at once and reduced when its turn comes
    (unreduced when ``L`` products of residues cannot overflow 64 bits)."""
    moduli = np.array(primes, dtype=np.int64)
    radix = _radix_table(tuple(primes))
    lazy = len(primes) * max(primes) ** 2 < 2**63
    partial = np.zeros_like(residues)
    digits = []
    for t, p in enumerate(primes):
        rows = active[t]
        inverse = pow(int(radix[t, t]), -1, p)
        digit = (residues[:rows, t] - partial[:rows, t] % p) % p * inverse % p
        digits.append(digit)
        for lo in range(t + 1, len(primes), _COLUMNS):  # only rows that need these primes
            hi, need = min(lo + _COLUMNS, len(primes)), active[lo]
            partial[:need, lo:hi] += digit[:need, None] * radix[t, lo:hi]
            if not lazy:
                partial[:need, lo:hi] %= moduli[lo:hi]
    return digits


_COLUMNS = 8  # later primes updated per numpy call in Garner's algorithm


@functools.lru_cache(maxsize=8)
def _radix_table(primes: tuple[int, ...]) -> np.ndarray:
    r"""``table[t, i]`` = :math:`p_1 \cdots p_{t-1} \bmod p_i` (1 for ``t = 0``)."""
    moduli = np.array(primes, dtype=np.int64)
    table = np.ones((len(primes), len(primes)), dtype=np.int64)
    for t in range(1, len(primes)):
        table[t] = table[t - 1] * primes[t - 1] % moduli
    return table
