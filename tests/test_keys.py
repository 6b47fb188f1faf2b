from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from man_rl.errors import InvalidTypeError
from man_rl.keys import decode_key, encode_key, normalize_key

scalars = st.one_of(st.integers(), st.text(), st.booleans(), st.none(), st.floats(allow_nan=False))
keys = st.recursive(scalars, lambda inner: st.tuples(inner, inner) | st.tuples(inner), max_leaves=6)


@given(keys)
def test_encode_decode_round_trip_exact(key):
    import json

    back = decode_key(json.loads(json.dumps(encode_key(key))))
    assert back == key
    assert type(back) is type(key)


def test_numpy_scalars_become_python():
    assert type(normalize_key(np.int64(4))) is int
    assert normalize_key((np.int8(1), np.float32(0.5))) == (1, 0.5)
    assert normalize_key(np.array(3)) == 3


def test_lists_are_refused_on_decode():
    with pytest.raises(InvalidTypeError):
        decode_key([1, 2])


@pytest.mark.parametrize("bad", [[1], {"a": 1}, {1, 2}])
def test_unhashable(bad):
    with pytest.raises(InvalidTypeError, match="unhashable"):
        normalize_key(bad)


def test_hashable_but_not_saveable():
    with pytest.raises(InvalidTypeError, match="cannot be saved"):
        normalize_key(object())
