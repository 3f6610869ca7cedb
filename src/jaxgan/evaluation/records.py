"""The evaluator's record file: append-only JSONL, one record per step, protocol and quantity,
with the provenance of every number. It is also the job's memory: a restarted evaluator skips
what is recorded, so killing it loses nothing."""

from __future__ import annotations

import json
import os
from typing import Any


class RecordFile:
    """Append-only JSONL; each record is flushed and fsynced, a torn last line is dropped."""

    def __init__(self, path: str):
        self.path = path
        self.records: list[dict[str, Any]] = []
        if os.path.isfile(path):
            with open(path, "rb") as f:
                raw = f.read()
            complete = raw[: raw.rfind(b"\n") + 1]
            if len(complete) != len(raw):  # killed mid-write: drop the partial record
                with open(path, "wb") as f:
                    f.write(complete)
            self.records = [json.loads(line) for line in complete.decode().splitlines() if line]

    def done(self, step: int | None, protocol: str, generator: str,
             extractor_sha256: str) -> bool:
        """True when every quantity of `protocol` at `step` is recorded for `generator` with
        these extractor weights (a LeNet trained on another CPU has other weights: a workdir
        scored with those is scored again with these)."""
        found = [r for r in self.records if r.get("step") == step and r.get("protocol") == protocol
                 and r.get("generator", "params") == generator
                 and r.get("extractor_sha256") == extractor_sha256]
        return bool(found) and len({r["metric"] for r in found}) >= found[0]["outputs"]

    def has(self, record: dict[str, Any]) -> bool:
        # The protocol too: `cas_lenet` and `cas_lenet_60k` both record the metric "cas_lenet".
        return any(r.get("step") == record["step"] and r.get("metric") == record["metric"]
                   and r.get("protocol", r.get("metric")) == record.get("protocol",
                                                                        record["metric"])
                   and r.get("generator", "params") == record.get("generator", "params")
                   and r.get("extractor_sha256") == record.get("extractor_sha256")
                   for r in self.records)

    def append(self, record: dict[str, Any]) -> None:
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        with open(self.path, "a") as f:
            f.write(json.dumps(record, sort_keys=True) + "\n")
            f.flush()
            os.fsync(f.fileno())
        self.records.append(record)


def records_of(protocol: str, result: dict[str, Any], provenance: dict[str, Any]):
    """One record per reported quantity (pr_* reports precision and recall)."""
    values = result["values"]
    outputs = [key for key in values if not key.endswith("_std")]
    for key in outputs:
        yield {
            "metric": key, "protocol": protocol, "value": float(values[key]),
            "outputs": len(outputs),
            **({"std": float(values[f"{key}_std"])} if f"{key}_std" in values else {}),
            "num_generated": result["num_generated"], "num_reference": result["num_reference"],
            **provenance,
        }
