"""API key hygiene: a production key must look random, not typed by a person.

A key is refused if it is short, uses few distinct characters (`aaaaaaaaaaaaaaaa`), or is a
common password, placeholder or keyboard run once its digits and symbols are set aside
(`password12345678`, `changeme-2024!!!`, `qwertyuiop123456`).
"""

from __future__ import annotations

import re

MIN_KEY_LENGTH = 16
MIN_DISTINCT_CHARACTERS = 10
GENERATE_KEY = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"

# Placeholders from examples and tutorials, and the words topping leaked-password lists.
COMMON_WORDS = frozenset(
    {
        "admin",
        "administrator",
        "apikey",
        "api",
        "key",
        "apikeyhere",
        "yourapikey",
        "yourapikeyhere",
        "changeme",
        "changeit",
        "default",
        "secret",
        "secretkey",
        "supersecret",
        "mysecret",
        "token",
        "mytoken",
        "test",
        "testing",
        "tester",
        "dev",
        "development",
        "prod",
        "production",
        "staging",
        "leadscore",
        "password",
        "passw",
        "passwd",
        "pass",
        "passphrase",
        "letmein",
        "welcome",
        "hello",
        "iloveyou",
        "monkey",
        "dragon",
        "master",
        "sunshine",
        "princess",
        "football",
        "baseball",
        "shadow",
        "superman",
        "batman",
        "trustno",
        "login",
        "qwerty",
        "qwertz",
        "azerty",
        "abc",
        "abcdef",
        "abcdefgh",
        "abcd",
        "asdf",
        "asdfgh",
        "asdfghjkl",
        "zxcvbnm",
        "qazwsx",
        "example",
        "sample",
        "demo",
        "guest",
        "root",
        "user",
    }
)
_RUNS = ("abcdefghijklmnopqrstuvwxyz", "qwertyuiopasdfghjklzxcvbnm", "azertyuiopqsdfghjklmwxcvbn")
_LETTERS = re.compile(r"[^a-z]")


def key_weakness(key: str) -> str | None:
    """Why `key` is too weak for production, or None if it is fine."""
    if len(key) < MIN_KEY_LENGTH:
        return f"it has {len(key)} characters, fewer than {MIN_KEY_LENGTH}"
    distinct = len(set(key))
    if distinct < MIN_DISTINCT_CHARACTERS:
        return f"it uses only {distinct} distinct characters (at least {MIN_DISTINCT_CHARACTERS})"
    letters = _LETTERS.sub("", key.lower())
    if letters in COMMON_WORDS or any(letters and letters in run for run in _RUNS):
        return "it is a common password, placeholder or keyboard run with digits or symbols added"
    return None


def refuse_weak_key(key: str) -> None:
    """Raise ValueError saying why `key` is weak and how to make a good one."""
    weakness = key_weakness(key)
    if weakness is not None:
        raise ValueError(
            f"refusing a weak API key in production: {weakness}. "
            f"Generate one with `{GENERATE_KEY}`."
        )
