"""Signed cookies: a value round-trips; a changed value, MAC, key or cookie name does not."""

from __future__ import annotations

from devstore import cookies


def test_a_signed_value_round_trips_and_tampering_is_refused():
    key = cookies.new_key()
    token = cookies.sign(key, "session", "shop|42")
    assert cookies.unsign(key, "session", token) == "shop|42"
    payload, mac = token.split(".")
    forged = cookies.sign(cookies.new_key(), "session", "shop|43").split(".")[0]
    for bad in (f"{forged}.{mac}", f"{payload}.{mac[:-2]}", f"{payload}", "", None, "a.b.c",
                f"{payload}.!!"):
        assert cookies.unsign(key, "session", bad) is None, bad
    assert cookies.unsign(cookies.new_key(), "session", token) is None
    assert cookies.unsign(key, "cart", token) is None
