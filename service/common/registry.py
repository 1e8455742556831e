"""Hooks by which each feature joins the worker-wide use cases.

A feature registers, at import of its services module:
- ``profile_fields(fn)``: ``fn(worker) -> dict`` merged into ``GET /me``;
- ``personal_data(name)(fn)``: ``fn(worker_id) -> data`` shown under ``name``
  in ``GET /me/data`` (decrypted, for the worker alone);
- ``eraser(fn)``: ``fn(worker_id)`` removes or anonymises the feature's
  personal data inside the caller's transaction (``DELETE /me``).
"""
from __future__ import annotations

from typing import Callable

_profile: list[Callable] = []
_exporters: dict[str, Callable] = {}
_erasers: list[Callable] = []


def profile_fields(fn: Callable) -> Callable:
    if fn not in _profile:
        _profile.append(fn)
    return fn


def personal_data(name: str):
    def deco(fn: Callable) -> Callable:
        _exporters[name] = fn
        return fn
    return deco


def eraser(fn: Callable) -> Callable:
    if fn not in _erasers:
        _erasers.append(fn)
    return fn


def profile_for(worker) -> dict:
    out: dict = {}
    for fn in _profile:
        out.update(fn(worker))
    return out


def export_for(worker_id: int) -> dict:
    return {name: fn(worker_id) for name, fn in _exporters.items()}


def erase_for(worker_id: int) -> None:
    for fn in _erasers:
        fn(worker_id)
