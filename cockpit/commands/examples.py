"""One or more example lines per command, with the demo's own targets (`cockpit --demo` runs each).

Kept in one table rather than beside each spec so that a reader sees the command language at a
glance and a new command is caught by one test (tests/test_cli_help.py): every command has an
example here, and every example parses against the demo's configuration.
"""

from __future__ import annotations

from dataclasses import replace

from cockpit.commands.registry import Registry

EXAMPLES: dict[str, tuple[str, ...]] = {
    "audit": ("audit --limit 20", "audit --op 3f9c2a1b"),
    "cost budgets": ("cost budgets",),
    "cost by deployment": ("cost by deployment --source gpu-prod",),
    "cost by namespace": ("cost by namespace --source gpu-prod",),
    "cost by provider": ("cost by provider",),
    "cost by region": ("cost by region --source aws",),
    "cost by source": ("cost by source",),
    "cost catalogue": ("cost catalogue",),
    "cost catalogue refresh": ("cost catalogue refresh --cloud aws",),
    "cost compare": ("cost compare --gpu H100 --count 8 --hours 24 --spot",),
    "cost idle": ("cost idle --threshold 10 --window 2h",),
    "cost machines": ("cost machines --source aws",),
    "cost now": ("cost now",),
    "cost spend": ("cost spend --days 7 --by service --source aws",),
    "deploy history": ("deploy history gpu-prod/inference/llama-70b",),
    "deploy list": ("deploy list --source gpu-prod --namespace inference",),
    "deploy restart": ("deploy restart gpu-prod/inference/embedder --yes",),
    "deploy rollback": ("deploy rollback gpu-prod/inference/llama-70b --to-revision 1 --dry-run",),
    "deploy scale": ("deploy scale gpu-prod/inference/llama-70b 3 --yes",),
    "deploy set-image": ("deploy set-image gpu-prod/inference/router ghcr.io/example/router:2.2.0 --dry-run",),
    "deploy status": ("deploy status gpu-prod/inference/llama-70b --timeout 2m",),
    "gpu list": ("gpu list --free",),
    "help": ("help vm provision",),
    "hpa list": ("hpa list --source gpu-prod",),
    "hpa set": ("hpa set gpu-prod/inference/embedder --min 2 --max 12 --yes",),
    "isvc canary": ("isvc canary gpu-prod/inference/mistral-7b 25 --yes",),
    "isvc list": ("isvc list",),
    "isvc promote": ("isvc promote gpu-prod/inference/mistral-7b --yes",),
    "isvc rollback": ("isvc rollback gpu-prod/inference/mistral-7b --yes",),
    "metrics gpus": ("metrics gpus --source prom",),
    "metrics host": ("metrics host",),
    "metrics panels": ("metrics panels --window 6h --step 5m",),
    "metrics query": ("metrics query 'avg(DCGM_FI_DEV_GPU_UTIL)' --range 1h --step 1m",),
    "model alias-history": ("model alias-history registry/llama-70b-chat --alias production",),
    "model compare": ("model compare registry/llama-70b-chat 7 8",),
    "model deploy": ("model deploy registry/llama-70b-chat --alias production --to gpu-prod/inference/llama-70b "
                     "--yes",),
    "model list": ("model list",),
    "model promote": ("model promote registry/fraud-detector 5 --alias production --yes",),
    "model register": ("model register registry/fraud-detector --run 4f1d2c3b9a8e4d7f --tag team=risk --yes",),
    "model rollback": ("model rollback registry/fraud-detector --alias production --yes",),
    "model show": ("model show registry/llama-70b-chat",),
    "model tag": ("model tag registry/bge-large owner=search --version 3 --yes",),
    "node cordon": ("node cordon gpu-prod/l4-02 --yes",),
    "node drain": ("node drain gpu-prod/a100-01 --timeout 5m --dry-run",),
    "node list": ("node list --gpu --product H100",),
    "node show": ("node show gpu-prod/a100-mig-01",),
    "node uncordon": ("node uncordon gpu-prod/l4-02 --yes",),
    "op cancel": ("op cancel 3f9c2a1b",),
    "op list": ("op list --all",),
    "op show": ("op show 3f9c2a1b",),
    "op wait": ("op wait 3f9c2a1b --timeout 10m",),
    "rollout abort": ("rollout abort 3f9c2a1b --yes",),
    "rollout pause": ("rollout pause 3f9c2a1b --yes",),
    "rollout promote": ("rollout promote 3f9c2a1b --yes",),
    "rollout resume": ("rollout resume 3f9c2a1b --yes",),
    "rollout start": ("rollout start registry/mistral-7b-instruct --alias staging --to gpu-prod/inference/mistral-7b "
                      "--steps 10,50,100 --gate 'p95 < 800ms' --yes",),
    "rollout status": ("rollout status 3f9c2a1b",),
    "sources": ("sources",),
    "vm destroy": ("vm destroy rack-a/scratch-01 --remove-storage --dry-run",),
    "vm force-off": ("vm force-off rack-a/a100-node-03 --yes",),
    "vm list": ("vm list --source aws --state running",),
    "vm provision": ("vm provision rack-b/h100-node-09 --template gpu-node --memory 128G --gpu 0000:ba:00.0 "
                     "--start --yes",
                     "vm provision aws/us-east-1a --type g5.xlarge --image ami-0abcdef1234567890 --name infer-a10g-2 "
                     "--spot --dry-run"),
    "vm reboot": ("vm reboot aws/infer-a10g-1 --yes",),
    "vm resume": ("vm resume rack-a/a100-node-03 --yes",),
    "vm show": ("vm show aws/llm-pretrain-0",),
    "vm start": ("vm start aws/h100-dev --yes",),
    "vm stop": ("vm stop gcp/a2-finetune --dry-run",),
    "vm suspend": ("vm suspend rack-a/a100-node-03 --yes",),
    "vm templates": ("vm templates --source rack-a",),
    "vm terminate": ("vm terminate azure/t4-batch --dry-run",),
    "vm xml": ("vm xml rack-a/a100-node-03",),
}


def with_examples(reg: Registry) -> Registry:
    """Each spec that names none gets its examples from the table (a spec's own win)."""
    for spec in reg.specs():
        if not spec.examples and spec.name in EXAMPLES:
            reg.add(replace(spec, examples=EXAMPLES[spec.name]))
    return reg
