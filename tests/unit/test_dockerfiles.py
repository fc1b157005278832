"""Dockerfiles: what each one copies and runs exists in the repository (there is no Docker engine to build them).

Every ``services/*/Dockerfile`` and ``deploy/runners/*.Dockerfile`` is parsed (line continuations joined, comments
dropped, ``ARG`` defaults substituted) and checked:

* each ``COPY`` source from the build context (not ``--from=``) exists under the repository root;
* each ``python -m ting_...`` module (RUN, ENTRYPOINT, CMD) is a module or package of a workspace member;
* each ``--package X`` (uv) names a workspace member;
* the final stage switches to a non-root ``USER``;
* ``EXPOSE`` matches the service's default port(s) in its settings class, and for the runners the container
  ports of their Deployment in ``deploy/components``;
* ``bentoml serve <path>:<Class>`` names a file that defines the class, and the Triton model repository copied to
  ``/models`` holds ``<model>/config.pbtxt`` + ``<model>/1/model.py``;
* every image the manifests name (``ting-<x>``) has a Dockerfile.
"""

from __future__ import annotations

import ast
import glob
import importlib
import re
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SERVICE_DOCKERFILES = sorted(ROOT.glob("services/*/Dockerfile"))
RUNNER_DOCKERFILES = sorted(ROOT.glob("deploy/runners/*.Dockerfile"))
DOCKERFILES = SERVICE_DOCKERFILES + RUNNER_DOCKERFILES

# service folder -> settings class (module, class) whose `port` (and gateway `http_port`) the image exposes
SETTINGS = {
    "asr": ("ting_asr.config", "AsrSettings"),
    "translate": ("ting_translate.config", "TranslateSettings"),
    "summarize": ("ting_summarize.config", "SummarizeSettings"),
    "separate": ("ting_separate.config", "SeparateSettings"),
    "gateway": ("ting_gateway.config", "GatewaySettings"),
}


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)


def parse(path: Path) -> list[Stage]:
    """The stages of a Dockerfile, each with its (INSTRUCTION, arguments) pairs, ARG defaults substituted."""
    logical: list[str] = []
    current = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):  # a comment inside a continued instruction
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        logical.append(current + line)
        current = ""
    assert not current, f"{path}: dangling line continuation"

    args: dict[str, str] = {}
    stages: list[Stage] = []

    def substitute(text: str) -> str:
        return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args.get(m.group(1) or m.group(2), m.group(0)), text)

    for line in logical:
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        rest = rest.strip()
        if keyword == "ARG":
            name, _, default = rest.partition("=")
            if default or name not in args:
                args[name] = default
            continue
        if keyword == "FROM":
            words = substitute(rest).split()
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=words[0], name=name))
            continue
        assert stages, f"{path}: {keyword} before FROM"
        stages[-1].instructions.append((keyword, substitute(rest)))
    assert stages, f"{path}: no FROM"
    return stages


def _words(arguments: str) -> list[str]:
    """Exec form (JSON array) or shell form, as words."""
    if arguments.startswith("["):
        return [str(w) for w in yaml.safe_load(arguments)]
    return shlex.split(arguments)


def _workspace_members() -> dict[str, Path]:
    """Workspace member name -> folder."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    members: dict[str, Path] = {}
    for pattern in config["tool"]["uv"]["workspace"]["members"]:
        for folder in glob.glob(str(ROOT / pattern)):
            project = Path(folder) / "pyproject.toml"
            if project.is_file():
                members[tomllib.loads(project.read_text())["project"]["name"]] = Path(folder)
    return members


MEMBERS = _workspace_members()


def _module_exists(module: str) -> bool:
    parts = module.split(".")
    for folder in MEMBERS.values():
        base = folder / "src" / Path(*parts)
        if base.with_suffix(".py").is_file() or (base / "__init__.py").is_file():
            return True
    return False


def _id(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.fixture(params=DOCKERFILES, ids=_id)
def dockerfile(request: pytest.FixtureRequest) -> Path:
    return Path(request.param)


def test_dockerfiles_found() -> None:
    assert {p.parent.name for p in SERVICE_DOCKERFILES} == set(SETTINGS)
    assert {p.name for p in RUNNER_DOCKERFILES} >= {
        "triton.Dockerfile",
        "bento-asr.Dockerfile",
        "bento-separate.Dockerfile",
    }


def _copies(stages: list[Stage]) -> list[tuple[Stage, list[str], str]]:
    """(stage, sources, destination) of every COPY/ADD from the build context."""
    out = []
    for stage in stages:
        for keyword, arguments in stage.instructions:
            if keyword not in {"COPY", "ADD"}:
                continue
            words = _words(arguments)
            flags = [w for w in words if w.startswith("--")]
            paths = [w for w in words if not w.startswith("--")]
            if any(f.startswith("--from=") for f in flags):
                continue
            out.append((stage, paths[:-1], paths[-1]))
    return out


def test_copy_sources_exist(dockerfile: Path) -> None:
    copies = _copies(parse(dockerfile))
    assert copies, f"{dockerfile}: copies nothing from the repository"
    for _stage, sources, _dest in copies:
        for source in sources:
            assert (ROOT / source).exists(), f"{_id(dockerfile)}: COPY {source}: no such path in the repository"


def test_modules_and_packages_exist(dockerfile: Path) -> None:
    modules = packages = 0
    for stage in parse(dockerfile):
        for keyword, arguments in stage.instructions:
            if keyword not in {"RUN", "ENTRYPOINT", "CMD"}:
                continue
            words = _words(arguments)
            for i, word in enumerate(words[:-1]):
                if word == "-m" and words[i + 1].startswith("ting"):
                    modules += 1
                    assert _module_exists(words[i + 1]), f"{_id(dockerfile)}: -m {words[i + 1]}: no such module"
                if word == "--package":
                    packages += 1
                    assert words[i + 1] in MEMBERS, f"{_id(dockerfile)}: --package {words[i + 1]}: not a member"
    # every image installs at least one workspace package with uv
    assert packages, f"{_id(dockerfile)}: no `--package <member>`"
    if dockerfile in SERVICE_DOCKERFILES:
        assert modules, f"{_id(dockerfile)}: no `python -m ting_...` entry point"


def test_final_stage_is_non_root(dockerfile: Path) -> None:
    final = parse(dockerfile)[-1]
    users = [arguments for keyword, arguments in final.instructions if keyword == "USER"]
    assert users, f"{_id(dockerfile)}: the final stage sets no USER (runs as root)"
    user = users[-1].split(":")[0]
    assert user not in {"0", "root"}, f"{_id(dockerfile)}: USER {users[-1]}"
    # multi-stage: dependencies are built in a stage of their own
    assert len(parse(dockerfile)) >= 2, f"{_id(dockerfile)}: not multi-stage"


def _exposed(stages: list[Stage]) -> set[int]:
    ports: set[int] = set()
    for keyword, arguments in stages[-1].instructions:
        if keyword == "EXPOSE":
            ports |= {int(p.split("/")[0]) for p in arguments.split()}
    return ports


@pytest.mark.parametrize("path", SERVICE_DOCKERFILES, ids=_id)
def test_service_exposes_its_default_ports(path: Path) -> None:
    module, cls = SETTINGS[path.parent.name]
    fields: dict[str, Any] = getattr(importlib.import_module(module), cls).model_fields
    expected = {int(fields["port"].default)}
    if "http_port" in fields:
        expected.add(int(fields["http_port"].default))
    assert _exposed(parse(path)) == expected, _id(path)
    # and the image's entry point is that service's package
    final = parse(path)[-1]
    entry = next(_words(a) for k, a in final.instructions if k == "ENTRYPOINT")
    assert entry[-1] == f"ting_{path.parent.name}", entry


def _deployment_ports(image: str) -> set[int]:
    """Container ports of the Deployment under deploy/ whose container runs ``image``."""
    for manifest in (ROOT / "deploy").rglob("*.yaml"):
        for doc in yaml.safe_load_all(manifest.read_text()):
            if not doc or doc.get("kind") != "Deployment":
                continue
            for container in doc["spec"].get("template", {}).get("spec", {}).get("containers", []):
                if container.get("image") == image:
                    return {p["containerPort"] for p in container.get("ports", [])}
    raise AssertionError(f"no Deployment under deploy/ runs image {image}")


@pytest.mark.parametrize("path", RUNNER_DOCKERFILES, ids=_id)
def test_runner_exposes_its_deployment_ports(path: Path) -> None:
    image = "ting-" + path.name.removesuffix(".Dockerfile")
    assert _exposed(parse(path)) == _deployment_ports(image), _id(path)


def _cmd(stages: list[Stage]) -> list[str]:
    final = stages[-1]
    return [w for k, a in final.instructions if k in {"ENTRYPOINT", "CMD"} for w in _words(a)]


def test_bento_runners_serve_a_defined_class() -> None:
    paths = [p for p in RUNNER_DOCKERFILES if p.name.startswith("bento-")]
    assert paths
    for path in paths:
        stages = parse(path)
        cmd = _cmd(stages)
        assert cmd[:2] == ["bentoml", "serve"], cmd
        target, _, cls = cmd[2].partition(":")
        assert cls, f"{_id(path)}: bentoml serve {cmd[2]}: no :Class"
        # WORKDIR /app mirrors the repository layout, and the file is copied into the image
        workdirs = [a for k, a in stages[-1].instructions if k == "WORKDIR"]
        assert workdirs and workdirs[-1] == "/app", workdirs
        copied = [dest for _s, sources, dest in _copies(stages) for src in sources if target.startswith(src)]
        assert copied, f"{_id(path)}: {target} is not copied into the final stage"
        assert "--port" in cmd and cmd[cmd.index("--port") + 1] == "3000", cmd
        tree = ast.parse((ROOT / target).read_text())
        classes = {n.name for n in ast.walk(tree) if isinstance(n, ast.ClassDef)}
        assert cls in classes, f"{_id(path)}: {target} defines no class {cls}"
        env = " ".join(a for k, a in stages[-1].instructions if k == "ENV")
        assert "BENTOML_DO_NOT_TRACK=true" in env, _id(path)


def test_triton_model_repository() -> None:
    path = ROOT / "deploy" / "runners" / "triton.Dockerfile"
    stages = parse(path)
    cmd = _cmd(stages)
    assert cmd[0] == "tritonserver" and "--model-repository=/models" in cmd, cmd
    models = {dest.rstrip("/").removeprefix("/models/"): sources[0] for _s, sources, dest in _copies(stages)[-2:]}
    assert set(models) == {"whisper", "separator"}, models
    for source in models.values():
        assert (ROOT / source / "config.pbtxt").is_file(), source
        assert (ROOT / source / "1" / "model.py").is_file(), source


def test_every_image_has_a_dockerfile() -> None:
    images = set()
    for manifest in (ROOT / "deploy").rglob("*.yaml"):
        for doc in yaml.safe_load_all(manifest.read_text()):
            if doc and doc.get("kind") == "Deployment":
                # patches name containers without an image
                containers = doc["spec"].get("template", {}).get("spec", {}).get("containers", [])
                images |= {c["image"] for c in containers if "image" in c}
    built = {f"ting-{p.parent.name}" for p in SERVICE_DOCKERFILES}
    built |= {"ting-" + p.name.removesuffix(".Dockerfile") for p in RUNNER_DOCKERFILES}
    assert images == built, (
        f"images without a Dockerfile: {images - built}; Dockerfiles no manifest uses: {built - images}"
    )


def test_parser_catches_mistakes(tmp_path: Path) -> None:
    """The checks can fail: a missing COPY source and a root final stage are detected."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:3.11-slim AS build\nCOPY no/such/dir dst\nFROM python:3.11-slim\nUSER root\n")
    stages = parse(bad)
    (_stage, sources, _dest) = _copies(stages)[0]
    assert not (ROOT / sources[0]).exists()
    assert [a for k, a in stages[-1].instructions if k == "USER"] == ["root"]
    assert not _module_exists("ting_asr.no_such_module")
    assert _module_exists("ting_asr.prepare")
