"""Adapters, one per external system. Each is imported by name by the hub, only when a source of
its kind is used, and is the only place its SDK is imported."""

from __future__ import annotations
