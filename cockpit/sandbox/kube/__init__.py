"""A fake Kubernetes API server for `--demo` and the tests: no kube-apiserver can be installed here.

It is written to the public API's shapes so that the official Python client and `kubectl` both
accept it: discovery, resourceVersion/uid/timestamps, label and field selectors, GET/LIST/WATCH/
POST/PUT/PATCH/DELETE, the Scale subresource and a Deployment controller that keeps ReplicaSets
with revision annotations. Standard library only.
"""

from __future__ import annotations
