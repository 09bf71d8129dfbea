"""CI must run exactly the README's test command, and the README must open with the two commands."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    return re.findall(r"```bash\n(.+?)\n```", (ROOT / "README.md").read_text())


def test_readme_opens_with_install_and_test_commands():
    first, second = readme_commands()[:2]
    assert "leadscore quickstart" in first
    assert "pytest" in second


def test_ci_runs_exactly_the_readme_test_command():
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert readme_commands()[1] in ci_lines


def test_the_receivers_signature_check_in_the_readme_accepts_ours_and_refuses_others():
    """Receivers copy the README's `verify`: it must pass our deliveries and fail the rest."""
    import time

    from serving.webhooks.signing import signature

    [snippet] = [
        block
        for block in re.findall(r"```python\n(.+?)\n```", (ROOT / "README.md").read_text(), re.S)
        if "def verify" in block
    ]
    namespace: dict = {}
    exec(snippet, namespace)
    verify = namespace["verify"]
    body, secret, now = b'{"tier": "sql"}', "whsec-0123456789abcdef", int(time.time())
    assert verify(secret, signature(secret, now, body), body)
    assert not verify(secret, signature(secret, now, body), body + b" ")
    assert not verify("another-secret-0123", signature(secret, now, body), body)
    assert not verify(secret, signature(secret, now - 301, body), body)
