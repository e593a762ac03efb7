"""Randomised styles (filled in below)."""

from __future__ import annotations

from posekit.data.synthpose.styles import Style

STYLES: dict[str, Style] = {}
