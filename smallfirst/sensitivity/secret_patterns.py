"""Recognizers for credentials: provider API keys, tokens, private keys, passwords in connection strings.

Every entity is named ``secret.<kind>`` and falls in the ``secret`` data class. Formats follow the
providers' published key prefixes; shapes that are only placeholders (``sk-...``, ``user:password@``,
``${DB_PASSWORD}``) are rejected by validators.
"""

from __future__ import annotations

import re

from smallfirst.sensitivity import validators as V
from smallfirst.sensitivity.recognizers import RegexRecognizer


def _mixed(s: str) -> bool:
    """Looks random: has digits and letters of both cases (real keys do; prose and placeholders don't)."""
    return any(c.isdigit() for c in s) and any(c.islower() for c in s) and any(c.isupper() for c in s)


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.VERBOSE)


def secret_recognizers() -> list[RegexRecognizer]:
    """All secret recognizers, in claim order (the containers — PEM blocks, URLs — first)."""
    return [
        RegexRecognizer(
            "secret.private_key",
            _rx(r"-----BEGIN[ ]((?:[A-Z0-9]+[ ])*PRIVATE[ ]KEY(?:[ ]BLOCK)?)-----[\s\S]*?(?:-----END[ ]\1-----|\Z)"),
            needles=("PRIVATE KEY",),
        ),
        RegexRecognizer(
            "secret.connection_password",
            _rx(r"\b[A-Za-z][A-Za-z0-9+.-]{1,30}://[^\s:/@'\"<>]+:([^\s@/'\"<>]+)@[^\s/'\"<>]+"),
            group=1, validate=V.real_password, needles=("://",),
        ),
        RegexRecognizer(
            "secret.connection_password",
            _rx(r"""(?i:(?:server|host|hostname|data[ ]source|address)\s*=[^;\n]*;(?:[^;\n]*;){0,8}?\s*
                    (?:password|pwd)\s*=\s*)([^;'"\s]+)"""),
            group=1, validate=V.real_password, needles=("password", "pwd"), lower_needles=True,
        ),
        RegexRecognizer(
            "secret.jwt",
            _rx(r"(?<![\w-])eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}(?![\w-])"),
            validate=V.jwt_ok, needles=("eyJ",),
        ),
        RegexRecognizer(
            "secret.anthropic_key",
            _rx(r"(?<![\w-])sk-ant-[a-z]+\d{2}-[A-Za-z0-9_-]{32,}(?![\w-])"),
            needles=("sk-ant-",),
        ),
        RegexRecognizer(
            "secret.openai_key",
            _rx(r"(?<![\w-])sk-(?!ant-)(?:proj-|svcacct-|admin-|None-)?[A-Za-z0-9_-]{32,}(?![\w-])"),
            validate=_mixed, needles=("sk-",),
        ),
        RegexRecognizer(
            "secret.aws_access_key",
            _rx(r"(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Za-z0-9])"),
            needles=("AKIA", "ASIA", "ABIA", "ACCA"),
        ),
        RegexRecognizer(
            "secret.aws_secret_key",
            _rx(r"""(?i:aws[\w.-]{0,20}?(?:secret|private)[\w.-]{0,20}?["']?\s*[=:]\s*["']?)
                    ([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])"""),
            group=1, validate=lambda s: any(c.isdigit() for c in s) and any(c.isalpha() for c in s),
            needles=("aws",), lower_needles=True,
        ),
        RegexRecognizer(
            "secret.github_token",
            _rx(r"(?<![\w-])(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{60,255})(?![\w-])"),
            needles=("gh", "github_pat_"),
        ),
        RegexRecognizer(
            "secret.google_api_key",
            _rx(r"(?<![\w-])(?:AIza[0-9A-Za-z_-]{35}|GOCSPX-[0-9A-Za-z_-]{28}|ya29\.[0-9A-Za-z_-]{30,})(?![\w-])"),
            needles=("AIza", "GOCSPX-", "ya29."),
        ),
        RegexRecognizer(
            "secret.slack_token",
            _rx(r"""(?<![\w-])(?:xox[abposr]-[0-9A-Za-z-]{10,250}|xapp-\d-[0-9A-Za-z-]{10,250}
                    |https://hooks\.slack\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]+)(?![\w-])"""),
            needles=("xox", "xapp-", "hooks.slack.com"),
        ),
        RegexRecognizer(
            "secret.stripe_key",
            _rx(r"(?<![\w-])(?:(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{24,247}|whsec_[0-9A-Za-z]{32,})(?![\w-])"),
            needles=("_live_", "_test_", "whsec_"),
        ),
        RegexRecognizer(
            "secret.bearer_token",
            _rx(r"(?i:\bauthorization\s*[:=]\s*[\"']?bearer)\s+([A-Za-z0-9._~+/-]{20,}=*)"),
            group=1, validate=_mixed, needles=("bearer",), lower_needles=True,
        ),
    ]
