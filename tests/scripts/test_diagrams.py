"""scripts/diagrams.py: both PNGs render from the script alone, the committed ones are exactly
what it renders, and every AWS service the platform diagram names is deployed by the CDK app.

Graphviz's output is deterministic here (fixed node ids; same ``dot``, cairo and fonts give the
same bytes: checked over repeated runs and working directories), so the committed PNGs are
compared byte for byte. A different Graphviz or font set renders different bytes: re-render
with ``python scripts/diagrams.py`` and commit ``docs/img``.
"""

from __future__ import annotations

import json
import os
import re
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from scripts import diagrams

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    """Walk every chunk (checking its CRC) and return the IHDR width and height."""
    assert data[:8] == PNG_SIGNATURE, "not a PNG signature"
    pos, chunks, size = 8, [], (0, 0)
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(kind + body) == crc, f"bad CRC in {kind!r}"
        if kind == b"IHDR":
            size = struct.unpack(">II", body[:8])
        chunks.append(kind)
        pos += 12 + length
    assert chunks[0] == b"IHDR", chunks[:3]
    assert b"IDAT" in chunks
    assert chunks[-1] == b"IEND"
    return size


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The script run as a command, from an unrelated working directory, into a temp dir."""
    outdir = tmp_path_factory.mktemp("img")
    result = subprocess.run(
        [sys.executable, str(diagrams.ROOT / "scripts" / "diagrams.py"), "--outdir", str(outdir)],
        cwd=outdir,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(outdir / f"{n}.png") for n in diagrams.DIAGRAM_NAMES]
    return outdir


@pytest.mark.parametrize("name", diagrams.DIAGRAM_NAMES)
def test_script_renders_a_real_png(rendered: Path, name: str) -> None:
    data = (rendered / f"{name}.png").read_bytes()
    width, height = png_size(data)
    # Dozens of 1.4-inch icons at 96 dpi with their labels: well over 1000 px wide, and a
    # runaway layout (tens of thousands of pixels) would be unreadable.
    assert 1000 <= width <= 8000, (width, height)
    assert 600 <= height <= 6000, (width, height)
    assert 50_000 <= len(data) <= 5_000_000, len(data)
    # Only the PNGs are left behind (the diagrams package deletes its dot source file).
    assert sorted(p.name for p in rendered.iterdir()) == sorted(
        f"{n}.png" for n in diagrams.DIAGRAM_NAMES
    )


@pytest.mark.parametrize("name", diagrams.DIAGRAM_NAMES)
def test_committed_png_is_what_the_script_renders(rendered: Path, name: str) -> None:
    committed = diagrams.IMG_DIR / f"{name}.png"
    assert committed.is_file(), f"{committed} is missing: run python scripts/diagrams.py"
    fresh = (rendered / f"{name}.png").read_bytes()
    assert committed.read_bytes() == fresh, (
        f"docs/img/{name}.png differs from what scripts/diagrams.py renders "
        f"(committed {png_size(committed.read_bytes())}, rendered {png_size(fresh)}): "
        "re-render with `python scripts/diagrams.py` and commit docs/img"
    )


def test_rendering_twice_gives_the_same_bytes(rendered: Path, tmp_path: Path) -> None:
    diagrams.render_all(tmp_path)
    for name in diagrams.DIAGRAM_NAMES:
        assert (tmp_path / f"{name}.png").read_bytes() == (rendered / f"{name}.png").read_bytes()


NODE = re.compile(r"^\s*(\w+) \[label=", re.MULTILINE)


def test_platform_aws_nodes_are_exactly_the_listed_services(tmp_path: Path) -> None:
    """The list the next test checks is the diagram's own: every node that is not marked
    external is a key of PLATFORM_AWS_NODES, and every key is drawn."""
    source = diagrams.render_platform(tmp_path)
    drawn = set(NODE.findall(source))
    aws = {n for n in drawn if not n.startswith(diagrams.EXTERNAL_PREFIX)}
    assert aws == set(diagrams.PLATFORM_AWS_NODES)
    assert drawn - aws, "the clients are drawn too"
    for node in diagrams.PLATFORM_AWS_NODES.values():
        assert node.resource_types, node
        assert all(re.fullmatch(r"AWS::\w+::\w+", t) for t in node.resource_types), node


@pytest.fixture(scope="module")
def synthesized_types(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """Every CloudFormation resource type in every template that ``python app.py`` writes:
    both environments' stages and the delivery pipeline (with its nested stage assemblies),
    synthesized offline into a temp outdir, cdk-nag on, exactly as CI and the CLI do."""
    outdir = tmp_path_factory.mktemp("cdk.out")
    result = subprocess.run(
        [sys.executable, str(diagrams.ROOT / "app.py")],
        cwd=diagrams.ROOT,
        env={**os.environ, "CDK_OUTDIR": str(outdir)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    types: set[str] = set()
    templates = sorted(outdir.rglob("*.template.json"))
    assert templates, "python app.py wrote no template"
    for path in templates:
        resources = json.loads(path.read_text(encoding="utf-8")).get("Resources", {})
        types.update(r["Type"] for r in resources.values())
    return types


@pytest.mark.parametrize("key", sorted(diagrams.PLATFORM_AWS_NODES))
def test_platform_service_is_in_the_synthesized_templates(
    synthesized_types: set[str], key: str
) -> None:
    node = diagrams.PLATFORM_AWS_NODES[key]
    missing = [t for t in node.resource_types if t not in synthesized_types]
    assert not missing, f"platform diagram node {key!r} names {missing}, which no template has"
