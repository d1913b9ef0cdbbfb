"""Offline-first W&B: `mode: auto` runs online only where an API key is configured (the key itself is never read)."""

from __future__ import annotations

import netrc
import os
from pathlib import Path
from urllib.parse import urlsplit


def resolve_mode(mode: str) -> str | None:
    """`auto`: None (wandb reads WANDB_MODE) when WANDB_MODE is set, else online with an API key, offline without."""
    if mode != "auto":
        return mode
    if os.environ.get("WANDB_MODE"):
        return None
    return "online" if api_key_configured() else "offline"


def api_key_configured() -> bool:
    """Whether wandb would find credentials: the environment, or a `.netrc` entry for the W&B host (as
    `wandb login` writes it)."""
    if os.environ.get("WANDB_API_KEY") or os.environ.get("WANDB_IDENTITY_TOKEN_FILE"):
        return True
    host = urlsplit(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).netloc
    path = os.environ.get("NETRC") or str(Path.home() / ".netrc")
    try:
        return netrc.netrc(path).authenticators(host) is not None
    except (OSError, netrc.NetrcParseError):
        return False
