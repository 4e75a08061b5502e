"""What an object mentions: observable values for search, references for relationships."""

import pytest

from sharing import observables
from tests import stix_samples


def test_an_indicator_pattern_yields_the_values_it_compares_for_equality():
    pattern = (
        "[ipv4-addr:value = '203.0.113.7' OR file:hashes.'SHA-256' = 'ABCDEF'] "
        "AND [domain-name:value IN ('a.example', 'b\\'c.example')] "
        "AND [ipv4-addr:value ISSUBSET '198.51.100.0/24'] AND [url:value LIKE '%evil%']"
    )
    values = observables.observable_values(stix_samples.indicator(pattern=pattern))
    assert sorted(value for _, value in values) == [
        "198.51.100.0/24",
        "203.0.113.7",
        "a.example",
        "abcdef",
        "b'c.example",
    ]
    assert ("file:hashes.'SHA-256'", "abcdef") in values


def test_an_observable_object_yields_its_value_and_hashes():
    file = {"type": "file", "id": "file--1", "name": "x.exe", "hashes": {"MD5": "AA" * 16}}
    assert observables.observable_values(file) == [
        ("file:name", "x.exe"),
        ("file:hashes.'MD5'", "aa" * 16),
    ]
    assert observables.observable_values({"type": "ipv4-addr", "value": "10.0.0.1/32"}) == [
        ("ipv4-addr:value", "10.0.0.1")
    ]


def test_a_pattern_that_does_not_parse_yields_nothing():
    assert (
        observables.observable_values(stix_samples.indicator(pattern="[ipv4-addr:value = ")) == []
    )


@pytest.mark.parametrize(
    "query, expected",
    [
        ("  ABC ", ["abc"]),
        ("", []),
        ("x" * 600, []),
    ],
)
def test_search_values_of_plain_text(query, expected):
    assert observables.search_values(query) == expected


def test_an_address_is_searched_with_every_network_that_holds_it():
    values = observables.search_values("198.51.100.77")
    assert values[0] == "198.51.100.77"
    assert "198.51.100.0/24" in values and "0.0.0.0/0" in values and len(values) == 33
    assert "2001:db8::/32" in observables.search_values("2001:DB8::1")


def test_references_are_every_ref_and_refs_property():
    report = stix_samples.report(["indicator--1", "malware--2"])
    report["created_by_ref"] = "identity--3"
    assert observables.references(report) == [
        ("object_refs", "indicator--1"),
        ("object_refs", "malware--2"),
        ("created_by_ref", "identity--3"),
    ]
