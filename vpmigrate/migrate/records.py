"""MLflow objects as read from the REST API, and what makes two of them the same.

Values are kept as the API returns them (metric values as JSON numbers, or the strings
"NaN" / "Infinity" / "-Infinity"), so what is sent to the target is what was read.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# Tags this migration writes on the target; never copied, never compared.
PREFIX = "vpmigrate."
SOURCE_RUN = "vpmigrate.source_run_id"
FINGERPRINT = "vpmigrate.source_fingerprint"  # written last: the copy of the run is complete
SOURCE_EXPERIMENT = "vpmigrate.source_experiment_id"
SOURCE_VERSION = "vpmigrate.source_version"
PARENT = "mlflow.parentRunId"
LOG_MODEL_HISTORY = "mlflow.log-model.history"
STALE = "stale"  # FINGERPRINT value after verification found the copy different


# (key, step, timestamp, value as text): one point of a metric's history
Point = tuple[str, int, int, str]


def value_text(value: Any) -> str:
    """A metric value in one canonical spelling (the API writes NaN as a string or a
    bare NaN depending on the route)."""
    if isinstance(value, str):
        lowered = value.lower()
        if lowered in ("nan", "infinity", "-infinity", "inf", "-inf"):
            return {"nan": "NaN", "infinity": "Infinity", "inf": "Infinity"}.get(
                lowered, "-Infinity"
            )
        value = float(value)
    number = float(value)
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    return repr(number)


def wire_value(text: str) -> float | str:
    """A metric value as log-batch takes it."""
    return text if text in ("NaN", "Infinity", "-Infinity") else float(text)


def point(metric: Mapping[str, Any]) -> Point:
    return (
        str(metric["key"]),
        int(metric.get("step") or 0),
        int(metric.get("timestamp") or 0),
        value_text(metric.get("value", 0)),
    )


@dataclass
class Run:
    run_id: str
    experiment_id: str
    name: str
    status: str
    start_time: int | None
    end_time: int | None
    lifecycle: str
    artifact_uri: str
    user_id: str
    params: dict[str, str]
    tags: dict[str, str]
    latest: dict[str, Point]  # latest value of each metric, as search returns it
    inputs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def parent_id(self) -> str | None:
        return self.tags.get(PARENT) or None

    @property
    def source_id(self) -> str | None:
        """On the target: the source run this is a copy of."""
        return self.tags.get(SOURCE_RUN) or None

    def own_tags(self) -> dict[str, str]:
        return {k: v for k, v in self.tags.items() if not k.startswith(PREFIX)}

    def fingerprint(self) -> str:
        """What a complete copy must match; changes when the source run changes."""
        body = {
            "name": self.name,
            "status": self.status,
            "start": self.start_time,
            "end": self.end_time,
            "lifecycle": self.lifecycle,
            "params": sorted(self.params.items()),
            "tags": sorted(self.own_tags().items()),
            "latest": sorted(self.latest.values()),
            "inputs": sorted(input_key(i) for i in self.inputs),
        }
        text = json.dumps(body, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:32]


def parse_run(data: Mapping[str, Any]) -> Run:
    info = data.get("info", {})
    body = data.get("data", {})
    tags = {t["key"]: t.get("value", "") for t in body.get("tags", [])}
    return Run(
        run_id=info.get("run_id") or info.get("run_uuid", ""),
        experiment_id=str(info.get("experiment_id", "")),
        name=info.get("run_name") or tags.get("mlflow.runName", ""),
        status=info.get("status", "FINISHED"),
        start_time=_int_or_none(info.get("start_time")),
        end_time=_int_or_none(info.get("end_time")),
        lifecycle=info.get("lifecycle_stage", "active"),
        artifact_uri=info.get("artifact_uri", ""),
        user_id=info.get("user_id", ""),
        params={p["key"]: p.get("value", "") for p in body.get("params", [])},
        tags=tags,
        latest={m["key"]: point(m) for m in body.get("metrics", [])},
        inputs=list((data.get("inputs") or {}).get("dataset_inputs", [])),
    )


def _int_or_none(value: Any) -> int | None:
    if value in (None, ""):
        return None
    return int(value)


def input_key(dataset_input: Mapping[str, Any]) -> str:
    """Identity of one dataset input: the dataset (name, digest) and its tags (context)."""
    dataset = dataset_input.get("dataset", {})
    tags = sorted((t["key"], t.get("value", "")) for t in dataset_input.get("tags", []))
    return json.dumps([dataset.get("name"), dataset.get("digest"), tags])


@dataclass(frozen=True)
class Experiment:
    experiment_id: str
    name: str
    lifecycle: str
    artifact_location: str
    tags: dict[str, str]

    def own_tags(self) -> dict[str, str]:
        return {k: v for k, v in self.tags.items() if not k.startswith(PREFIX)}


def parse_experiment(data: Mapping[str, Any]) -> Experiment:
    return Experiment(
        experiment_id=str(data["experiment_id"]),
        name=data.get("name", ""),
        lifecycle=data.get("lifecycle_stage", "active"),
        artifact_location=data.get("artifact_location", ""),
        tags={t["key"]: t.get("value", "") for t in data.get("tags", [])},
    )


@dataclass(frozen=True)
class ModelVersion:
    name: str
    version: str
    source: str
    run_id: str
    stage: str
    description: str
    tags: dict[str, str]
    aliases: tuple[str, ...]
    status: str


def parse_version(data: Mapping[str, Any]) -> ModelVersion:
    return ModelVersion(
        name=data["name"],
        version=str(data["version"]),
        source=data.get("source", ""),
        run_id=data.get("run_id", "") or "",
        stage=data.get("current_stage", "None") or "None",
        description=data.get("description", "") or "",
        tags={t["key"]: t.get("value", "") for t in data.get("tags", [])},
        aliases=tuple(sorted(data.get("aliases", []))),
        status=data.get("status", "READY"),
    )


@dataclass(frozen=True)
class RegisteredModel:
    name: str
    description: str
    tags: dict[str, str]
    aliases: dict[str, str]  # alias -> version


def parse_model(data: Mapping[str, Any]) -> RegisteredModel:
    return RegisteredModel(
        name=data["name"],
        description=data.get("description", "") or "",
        tags={t["key"]: t.get("value", "") for t in data.get("tags", [])},
        aliases={a["alias"]: str(a["version"]) for a in data.get("aliases", [])},
    )


@dataclass(frozen=True)
class Facts:
    """What verification compares of one run: metric points per key and artifact files."""

    points: dict[str, tuple[int, str]]  # key -> (number of points, digest of the multiset)
    files: dict[str, tuple[int, str | None]]  # path -> (size, checksum)

    @property
    def point_count(self) -> int:
        return sum(n for n, _ in self.points.values())

    @property
    def file_bytes(self) -> int:
        return sum(size for size, _ in self.files.values())


def points_facts(points: Iterable[Point]) -> dict[str, tuple[int, str]]:
    by_key: dict[str, list[Point]] = {}
    for p in points:
        by_key.setdefault(p[0], []).append(p)
    return {
        key: (len(items), hashlib.sha256(repr(sorted(items)).encode()).hexdigest()[:16])
        for key, items in by_key.items()
    }


def missing_points(wanted: Iterable[Point], present: Iterable[Point]) -> list[Point]:
    """`wanted` less what `present` already has (as multisets, order kept)."""
    have = Counter(present)
    missing = []
    for p in wanted:
        if have[p] > 0:
            have[p] -= 1
        else:
            missing.append(p)
    return missing


def rewrite_tags(
    tags: Mapping[str, str], source_id: str, target_id: str, id_map: Mapping[str, str]
) -> dict[str, str]:
    """The source run's own tags as the copy must carry them: the parent points at the
    parent's copy, and the run's own id (in mlflow.log-model.history) at the copy."""
    result = {}
    for key, value in tags.items():
        if key.startswith(PREFIX):
            continue
        if key == PARENT:
            value = id_map.get(value, value)
        elif source_id and source_id in value and key == LOG_MODEL_HISTORY:
            value = value.replace(source_id, target_id)
        result[key] = value
    return result
