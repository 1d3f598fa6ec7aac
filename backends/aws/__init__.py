"""AWS EC2 through boto3, in one or more regions of an account. boto3 costs about half a second
to import: `create` defers it to the first call on the source, in a hub worker."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def create(source: str, settings: Mapping[str, Any]) -> Any:
    from backends.aws.adapter import AwsBackend

    return AwsBackend(source, settings)
