"""cluster.yaml is a valid Ray cluster launcher config and keeps foretune's cluster promises.

Validation runs the same offline steps as ``ray up`` (``prepare_config`` then
``validate_config`` against ``ray/autoscaler/ray-schema.json``) and skips only the steps that talk
to AWS. Nothing here touches the network.
"""

from __future__ import annotations

import ast
import copy
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import ray.autoscaler
import yaml
from ray.autoscaler._private.util import merge_setup_commands, prepare_config, validate_config

ROOT = Path(__file__).resolve().parents[1]
CLUSTER_YAML = ROOT / "cluster.yaml"
RAY_AUTOSCALER_DIR = Path(ray.autoscaler.__file__).parent
SCHEMA = json.loads((RAY_AUTOSCALER_DIR / "ray-schema.json").read_text())

# EC2 families whose instances carry NVIDIA GPUs (Ray reads the count from AWS at `ray up`).
GPU_FAMILIES = {
    "g4dn",
    "g5",
    "g6",
    "g6e",
    "gr6",
    "g7e",
    "p3",
    "p3dn",
    "p4d",
    "p4de",
    "p5",
    "p5e",
    "p5en",
    "p6-b200",
    "p6-b300",
}
EDIT_MARKER = re.compile(r"#\s*EDIT\b")


@pytest.fixture(scope="module")
def text() -> str:
    return CLUSTER_YAML.read_text()


@pytest.fixture()
def raw(text: str) -> dict[str, Any]:
    return yaml.safe_load(text)


def _validate(config: dict[str, Any]) -> dict[str, Any]:
    """What `ray up` checks before it contacts the cloud; returns the prepared config."""
    jsonschema.validate(config, SCHEMA)
    prepared = prepare_config(copy.deepcopy(config))
    validate_config(prepared)
    return prepared


def _head(config: dict[str, Any]) -> dict[str, Any]:
    return config["available_node_types"][config["head_node_type"]]


def _workers(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    head = config["head_node_type"]
    return {k: v for k, v in config["available_node_types"].items() if k != head}


def _family(node_type: dict[str, Any]) -> str:
    return node_type["node_config"]["InstanceType"].split(".")[0]


def _has_gpu(node_type: dict[str, Any]) -> bool:
    declared = node_type.get("resources", {}).get("GPU")
    if declared is not None:
        return declared > 0
    return _family(node_type) in GPU_FAMILIES  # left to Ray's autodetection at `ray up`


# -- schema ----------------------------------------------------------------------------------------
def test_validates_against_rays_schema(raw: dict[str, Any]) -> None:
    prepared = _validate(raw)
    assert prepared["cluster_name"] == "foretune"
    assert prepared["provider"]["type"] == "aws"


def _misspelled_top_level_key(c: dict[str, Any]) -> None:
    c["max_worker"] = c.pop("max_workers")


def _max_workers_not_an_int(c: dict[str, Any]) -> None:
    c["max_workers"] = "four"


def _node_type_max_workers_not_an_int(c: dict[str, Any]) -> None:
    next(iter(_workers(c).values()))["max_workers"] = 2.5


def _unknown_node_type_key(c: dict[str, Any]) -> None:
    next(iter(_workers(c).values()))["min_worker"] = 0


def _head_type_missing(c: dict[str, Any]) -> None:
    c["head_node_type"] = "no_such_type"


@pytest.mark.parametrize(
    "mutate",
    [
        _misspelled_top_level_key,
        _max_workers_not_an_int,
        _node_type_max_workers_not_an_int,
        _unknown_node_type_key,
        _head_type_missing,
    ],
)
def test_broken_config_fails_validation(raw: dict[str, Any], mutate: Any) -> None:
    mutate(raw)
    with pytest.raises((jsonschema.ValidationError, ValueError)):
        _validate(raw)


# -- nodes -----------------------------------------------------------------------------------------
def test_head_has_no_gpu(raw: dict[str, Any]) -> None:
    head = _head(raw)
    assert head["resources"].get("GPU") == 0, "pin GPU: 0 so no GPU trial waits on the head"
    assert _family(head) not in GPU_FAMILIES
    assert head.get("max_workers", 0) == 0
    assert "-gpu" not in raw["docker"].get("head_image", raw["docker"].get("image", ""))


def test_gpu_workers_scale_from_zero(raw: dict[str, Any]) -> None:
    gpu = {k: v for k, v in _workers(raw).items() if _has_gpu(v)}
    assert gpu, "no worker type provides a GPU"
    for name, node_type in gpu.items():
        assert node_type.get("min_workers", 0) == 0, name
        assert node_type.get("max_workers", raw["max_workers"]) >= 1, name
    assert raw["max_workers"] >= 1
    assert "gpu" in raw["docker"].get("worker_image", raw["docker"].get("image", ""))


def test_ray_autodetects_the_worker_gpu(raw: dict[str, Any], monkeypatch: Any) -> None:
    """Run Ray's own resource fill-out (what `ray up` does) on a recorded DescribeInstanceTypes."""
    from ray.autoscaler._private.aws import node_provider  # needs boto3 (a dev dependency)

    described = {
        "m5.2xlarge": {"VCpuInfo": {"DefaultVCpus": 8}, "MemoryInfo": {"SizeInMiB": 32768}},
        "g5.xlarge": {
            "VCpuInfo": {"DefaultVCpus": 4},
            "MemoryInfo": {"SizeInMiB": 16384},
            "GpuInfo": {"Gpus": [{"Name": "A10G", "Manufacturer": "NVIDIA", "Count": 1}]},
        },
    }
    types = {t["node_config"]["InstanceType"] for t in raw["available_node_types"].values()}
    assert types <= described.keys(), (
        f"cluster.yaml uses {sorted(types - described.keys())}: add its DescribeInstanceTypes entry "
        "(vCPUs, memory, GPUs from the AWS console) to `described` above"
    )
    monkeypatch.setattr(
        node_provider,
        "list_ec2_instances",
        lambda region, creds=None: [{"InstanceType": k, **v} for k, v in described.items()],
    )
    filled = node_provider.AWSNodeProvider.fillout_available_node_types_resources(
        prepare_config(copy.deepcopy(raw))
    )
    validate_config(filled)
    assert _head(filled)["resources"]["GPU"] == 0
    assert any(t["resources"].get("GPU", 0) >= 1 for t in _workers(filled).values())


def test_region_has_a_default_ami_unless_image_is_set(raw: dict[str, Any]) -> None:
    if all("ImageId" in t["node_config"] for t in raw["available_node_types"].values()):
        return
    # Ray's per-region default AMIs, read from its source so this needs no boto3 import.
    source = (RAY_AUTOSCALER_DIR / "_private" / "aws" / "config.py").read_text()
    node = next(
        n
        for n in ast.parse(source).body
        if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "DEFAULT_AMI"
    )
    assert raw["provider"]["region"] in ast.literal_eval(node.value)


# -- commands and files ----------------------------------------------------------------------------
def test_dashboard_bound_to_localhost(raw: dict[str, Any]) -> None:
    starts = [c for c in raw["head_start_ray_commands"] if "ray start" in c]
    assert len(starts) == 1 and "--head" in starts[0]
    assert re.search(r"--dashboard-host[= ]127\.0\.0\.1(\s|$)", starts[0]), starts[0]
    assert "0.0.0.0" not in json.dumps(raw)
    assert any("ray start" in c and "$RAY_HEAD_IP" in c for c in raw["worker_start_ray_commands"])


def test_setup_installs_the_project_on_every_node(raw: dict[str, Any]) -> None:
    assert raw["file_mounts"] == {"~/foretune": "."}
    merged = merge_setup_commands(prepare_config(copy.deepcopy(raw)))
    install = re.compile(r"pip install (-e|--editable) \"?(\$HOME|~)/foretune\[all\]\"?")
    for kind in ("head_setup_commands", "worker_setup_commands"):
        assert any(install.search(c) for c in merged[kind]), kind
    excluded = {p.strip("/") for p in raw["rsync_exclude"]}
    assert {"runs", ".git"} <= excluded


def test_exactly_four_edit_markers(text: str) -> None:
    lines = [line for line in text.splitlines() if EDIT_MARKER.search(line)]
    numbered = [re.search(r"#\s*EDIT (\d)/4\b", line) for line in lines]
    # four markers, numbered 1/4 ... 4/4 in file order
    assert [m.group(1) if m else line for m, line in zip(numbered, lines, strict=True)] == [
        "1",
        "2",
        "3",
        "4",
    ]
    for line in lines:  # each marker trails the value it names (a key's or a list item's)
        assert re.match(r"\s*([\w-]+:|- )\s*\S", line.split("#")[0]), line


def test_run_directories_default_to_the_bucket(raw: dict[str, Any]) -> None:
    """Issue 18: every node's container runs with FORETUNE_RUNS on S3, and the workers get an
    instance profile (the head gets Ray's own), so trials on any node reach the bucket."""
    runs = [o for o in raw["docker"]["run_options"] if o.startswith("--env=FORETUNE_RUNS=")]
    assert len(runs) == 1 and runs[0].split("=", 2)[2].startswith("s3://"), runs
    for name, node_type in _workers(raw).items():
        assert node_type["node_config"]["IamInstanceProfile"]["Name"], name


def test_no_credentials(text: str) -> None:
    code = "\n".join(line.split("#")[0] for line in text.splitlines())
    for pattern in (
        r"aws_(access_key_id|secret_access_key|session_token)",
        r"AKIA[0-9A-Z]{16}",
        r"RAY_AUTH_TOKEN=",
        r"ssh_private_key",
    ):
        assert not re.search(pattern, code, re.IGNORECASE), pattern


def test_cluster_experiment_config_is_valid():
    from foretune.config import ExperimentConfig

    config = ExperimentConfig.from_yaml(ROOT / "configs" / "cluster-gpu.yaml")
    assert config.train.use_gpu and 0 < config.train.gpus_per_trial < 1
