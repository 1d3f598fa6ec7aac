"""What `cockpit demo up` prints: how to point kubectl, the aws CLI, an mlflow client and curl at the
kept emulators. Every line can be pasted as it is; the paths and ports are this keeper's."""

from __future__ import annotations

import shlex

from cockpit.sandbox.aws import DEMO_REGIONS
from cockpit.sandbox.azure import DEMO_SUBSCRIPTION
from cockpit.sandbox.gcp import DEMO_PROJECT
from cockpit.sandbox.keep import AZURE_TOKEN, Kept

AWS_KEY = "cockpit-demo"
"""moto accepts any key; this is the one the demo itself signs with (`sandbox.aws.dummy_credentials`)."""


def instructions(kept: Kept) -> str:
    q = shlex.quote
    lines = [f"The demo's emulators are up (pid {kept.pid}, since {kept.started}). `cockpit --demo` (the UI, or",
             "a command such as `cockpit --demo vm list`) now uses them; `cockpit demo down` stops them.", ""]
    if not {"gpu-prod", "gpu-eu"} <= set(kept.errors):
        lines += ["Kubernetes (contexts gpu-prod and gpu-eu; gpu-prod-viewer is a read-only user):",
                  f"  export KUBECONFIG={q(str(kept.kubeconfig))}",
                  "  kubectl get nodes",
                  "  kubectl --context gpu-eu -n inference get deployments", ""]
    if "aws" not in kept.errors:
        env = (f"AWS_ENDPOINT_URL={kept.url('aws')} AWS_ACCESS_KEY_ID={AWS_KEY} AWS_SECRET_ACCESS_KEY={AWS_KEY} "
               f"AWS_DEFAULT_REGION={DEMO_REGIONS[0]}")
        lines += ["AWS EC2 (moto, regions " + ", ".join(DEMO_REGIONS) + "):",
                  f"  {env} aws ec2 describe-instances", ""]
    if "registry" not in kept.errors:
        uri = f"sqlite:///{kept.registry}"
        lines += ["MLflow model registry (any MLflow client):",
                  f"  export MLFLOW_TRACKING_URI={q(uri)}",
                  "  python -c 'import mlflow; print([m.name for m in mlflow.MlflowClient()"
                  ".search_registered_models()])'", ""]
    if "gcp" not in kept.errors:
        lines += [f"Compute Engine (project {DEMO_PROJECT}):",
                  f"  curl -s {kept.url('gcp')}/compute/v1/projects/{DEMO_PROJECT}/aggregated/instances", ""]
    if "azure" not in kept.errors:
        vms = (f"{kept.url('azure')}/subscriptions/{DEMO_SUBSCRIPTION}/providers/Microsoft.Compute/virtualMachines"
               "?api-version=2024-07-01")
        lines += ["Azure Resource Manager (https with the fake's own CA, a bearer token):",
                  f"  curl -s --cacert {q(str(kept.azure_ca))} -H 'Authorization: Bearer {AZURE_TOKEN}' {q(vms)}", ""]
    if "prom" not in kept.errors:
        lines += ["Prometheus (DCGM and serving series):",
                  f"  curl -s '{kept.url('prom')}/api/v1/query?query=DCGM_FI_DEV_GPU_UTIL'", ""]
    if kept.errors:
        lines += [f"Not started: {', '.join(kept.errors)} (why: below, or `cockpit demo status`)."]
    return "\n".join(lines).rstrip("\n")
