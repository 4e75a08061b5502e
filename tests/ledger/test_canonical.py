import hashlib
import json
import struct

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from ledger import canonical
from ledger.canonical import (
    LEAF_TAG,
    CanonicalizationError,
    canonicalize,
    item_leaf,
    new_salt,
    sha256,
)


def _from_ieee754(bits: str) -> float:
    return struct.unpack(">d", bytes.fromhex(bits))[0]


# RFC 8785 Appendix B: IEEE 754 bit patterns and their canonical serialisation.
@pytest.mark.parametrize(
    ("bits", "expected"),
    [
        ("0000000000000000", "0"),
        ("8000000000000000", "0"),
        ("0000000000000001", "5e-324"),
        ("8000000000000001", "-5e-324"),
        ("7fefffffffffffff", "1.7976931348623157e+308"),
        ("ffefffffffffffff", "-1.7976931348623157e+308"),
        ("4340000000000000", "9007199254740992"),
        ("c340000000000000", "-9007199254740992"),
        ("4430000000000000", "295147905179352830000"),
        ("44b52d02c7e14af5", "9.999999999999997e+22"),
        ("44b52d02c7e14af6", "1e+23"),
        ("44b52d02c7e14af7", "1.0000000000000001e+23"),
        ("444b1ae4d6e2ef4e", "999999999999999700000"),
        ("444b1ae4d6e2ef4f", "999999999999999900000"),
        ("444b1ae4d6e2ef50", "1e+21"),
        ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
        ("3eb0c6f7a0b5ed8d", "0.000001"),
        ("41b3de4355555553", "333333333.3333332"),
        ("41b3de4355555554", "333333333.33333325"),
        ("41b3de4355555555", "333333333.3333333"),
        ("41b3de4355555556", "333333333.3333334"),
        ("41b3de4355555557", "333333333.33333343"),
        ("becbf647612f3696", "-0.0000033333333333333333"),
        ("43143ff3c1cb0959", "1424953923781206.2"),
    ],
)
def test_it_serialises_numbers_like_appendix_b(bits: str, expected: str) -> None:
    assert canonicalize(_from_ieee754(bits)) == expected.encode()


@pytest.mark.parametrize(
    ("number", "expected"),
    [(1e30, b"1e+30"), (4.50, b"4.5"), (2e-3, b"0.002"), (1e-27, b"1e-27"), (-0.0, b"0")],
)
def test_it_serialises_the_section_3_2_2_numbers(number: float, expected: bytes) -> None:
    assert canonicalize(number) == expected


def test_it_reproduces_the_section_3_2_2_example() -> None:
    # RFC 8785 3.2.2: input text, then the canonical output.
    text = (
        "{\n"
        '  "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],\n'
        '  "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",\n'
        '  "literals": [null, true, false]\n'
        "}"
    )
    expected = (
        '{"literals":[null,true,false],'
        '"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )
    assert canonicalize(json.loads(text)) == expected.encode("utf-8")


def test_it_orders_keys_by_utf16_code_units() -> None:
    # RFC 8785 3.2.3: the emoji (a surrogate pair, 0xD83D...) sorts before U+FB33
    # although its code point is larger.
    obj = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    values = list(json.loads(canonicalize(obj)).values())
    assert values == [
        "Carriage Return",
        "One",
        "Control",
        "Latin Small Letter O With Diaeresis",
        "Euro Sign",
        "Emoji: Grinning Face",
        "Hebrew Letter Dalet With Dagesh",
    ]


def test_it_ignores_key_order_and_whitespace_of_the_input() -> None:
    first = json.loads('{"b": [1, 2.0, {"y": null, "x": true}], "a": "\\u00e9"}')
    second = {"a": "é", "b": [1, 2, {"x": True, "y": None}]}
    assert (
        canonicalize(first)
        == canonicalize(second)
        == '{"a":"é","b":[1,2,{"x":true,"y":null}]}'.encode()
    )


def test_it_accepts_the_largest_safe_integer() -> None:
    assert canonicalize(2**53 - 1) == b"9007199254740991"
    assert canonicalize(-(2**53 - 1)) == b"-9007199254740991"


@pytest.mark.parametrize("number", [2**53, -(2**53), 10**30])
def test_it_refuses_integers_beyond_2_to_the_53(number: int) -> None:
    with pytest.raises(CanonicalizationError, match="2\\*\\*53 - 1"):
        canonicalize({"value": number})


@pytest.mark.parametrize("number", [float("nan"), float("inf"), float("-inf")])
def test_it_refuses_nan_and_infinity(number: float) -> None:
    with pytest.raises(CanonicalizationError, match="NaN and Infinity"):
        canonicalize([number])


def test_it_refuses_non_string_keys() -> None:
    with pytest.raises(CanonicalizationError, match="keys must be strings"):
        canonicalize({1: "one"})


def test_it_refuses_lone_surrogates() -> None:
    with pytest.raises(CanonicalizationError):
        canonicalize("\ud800")


def test_it_refuses_other_python_types() -> None:
    with pytest.raises(CanonicalizationError, match="unsupported type"):
        canonicalize({"when": object()})


def test_canonicalization_errors_are_value_errors() -> None:
    assert issubclass(CanonicalizationError, ValueError)


def test_the_leaf_is_the_tagged_salted_hash() -> None:
    salt = bytes(range(32))
    canonical = b'{"a":1}'
    expected = hashlib.sha256(b"cti-portal:item:v1\x00" + salt + canonical).digest()
    assert LEAF_TAG == b"cti-portal:item:v1\x00"
    assert item_leaf(salt, canonical) == expected
    assert len(expected) == 32


def test_the_leaf_changes_with_the_salt() -> None:
    canonical = canonicalize({"type": "indicator"})
    assert item_leaf(bytes(32), canonical) != item_leaf(bytes(31) + b"\x01", canonical)


def test_the_leaf_changes_with_the_object() -> None:
    salt = new_salt()
    assert item_leaf(salt, b'{"a":1}') != item_leaf(salt, b'{"a":2}')


@pytest.mark.parametrize("length", [0, 16, 31, 33])
def test_it_refuses_salts_that_are_not_32_bytes(length: int) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        item_leaf(bytes(length), b"{}")


def test_salts_are_fresh_32_byte_values() -> None:
    salts = {new_salt() for _ in range(20)}
    assert len(salts) == 20
    assert all(len(salt) == 32 for salt in salts)


def test_sha256_is_sha256() -> None:
    assert sha256(b"").hex() == ("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")


# --- The fast path agrees with the reference implementation ----------------------------

_ascii_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.text(st.characters(max_codepoint=127)),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(st.characters(max_codepoint=127), max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(_ascii_json)
def test_the_plain_fast_path_writes_what_rfc8785_writes(value) -> None:
    assert canonical._plain(value)
    assert canonicalize(value) == rfc8785.dumps(value)


@given(st.integers(0, 5000), st.integers(1, 5000))
def test_the_inclusion_length_is_the_length_of_the_path(index: int, size: int) -> None:
    from ledger import merkle

    if index < size:
        assert merkle._inclusion_length(index, size) == len(merkle._inclusion_ranges(index, size))
