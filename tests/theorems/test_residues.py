"""The multi-modular machinery behind R4's exact tree counts: primes, overflow bound, CRT."""

import math

import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from theorems.residues import lane_prime_bits, primes_below, primes_for_bits, reconstruct


@pytest.mark.parametrize("bound,count", [(50, 8), (2**20, 12), (2**27, 60), (2**31, 5)])
def test_primes_below_are_the_largest_primes(bound, count):
    expected = [sp.prevprime(bound)]
    while len(expected) < count:
        expected.append(sp.prevprime(expected[-1]))
    assert list(primes_below(bound, count)) == expected


def test_primes_below_refuses_impossible_requests():
    with pytest.raises(ValueError, match="fewer than"):
        primes_below(20, 9)
    with pytest.raises(ValueError, match="bound"):
        primes_below(2**32, 1)


@given(terms=st.integers(min_value=1, max_value=10**6))
def test_lane_prime_bits_keep_sums_of_products_in_int64(terms):
    bits = lane_prime_bits(terms)
    assert terms * (2**bits - 1) ** 2 < 2**63
    assert bits == 31 or terms * (2 ** (bits + 1) - 1) ** 2 >= 2**63 // 4


@given(bits=st.floats(min_value=0, max_value=5000), prime_bits=st.integers(20, 31))
def test_primes_for_bits_exceed_the_bound(bits, prime_bits):
    primes = primes_for_bits(bits, prime_bits)
    assert math.log2(math.prod(primes)) > bits
    assert all(p < 2**prime_bits for p in primes)


@given(values=st.lists(st.integers(min_value=0, max_value=2**600), min_size=1, max_size=30),
       slack=st.floats(min_value=0.0, max_value=40.0), prime_bits=st.sampled_from([27, 31]))
def test_reconstruct_inverts_reduction(values, slack, prime_bits):
    """All primes, and each value with only the primes its (loose) bound asks for; 31-bit
    primes take the branch that reduces Garner's sums at every step."""
    primes = primes_for_bits(601, prime_bits)
    residues = np.array([[v % p for p in primes] for v in values], dtype=np.int64)
    assert reconstruct(residues, primes).tolist() == values
    bounds = np.array([math.log2(v + 1) + slack if v else slack for v in values])
    bounds = np.minimum(bounds, math.log2(math.prod(primes)) - 1e-9)
    assert reconstruct(residues, primes, bounds).tolist() == values


@pytest.mark.parametrize("prime_bits", [27, 31])
def test_reconstruct_large_values_near_the_modulus(prime_bits):
    primes = primes_for_bits(2000, prime_bits)
    modulus = math.prod(primes)
    values = [modulus - 1, modulus // 3, 2**1999 + 12345, 7]
    residues = np.array([[v % p for p in primes] for v in values], dtype=np.int64)
    assert reconstruct(residues, primes).tolist() == values


def test_reconstruct_keeps_the_shape_and_refuses_a_small_modulus():
    primes = primes_below(2**27, 3)
    grid = [[(3 * i + j) * 10**20 for j in range(4)] for i in range(3)]
    residues = np.array([[[v % p for p in primes] for v in row] for row in grid])
    assert reconstruct(residues, primes).tolist() == grid
    with pytest.raises(ValueError, match="does not exceed"):
        reconstruct(residues, primes, np.full((3, 4), 100.0))
