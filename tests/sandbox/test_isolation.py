"""The sandbox imports nothing of ours: it stands in for Amazon, so it must not share the client's code.

Were it to import ``spapi`` (the client) or ``listings_pipeline`` (the domain), a bug there would be on
both sides of every call and could never show up as a disagreement with "Amazon" (issue 12). Checked
twice: in a fresh interpreter that imports every sandbox module and serves a few calls (what gets
imported, lazily or not), and in the source (an import inside a function that no call reached).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SANDBOX = REPO / "sandbox"
OURS = ("spapi", "listings_pipeline")

PROBE = textwrap.dedent(
    """
    import asyncio, importlib, json, pkgutil, sys, tempfile
    from pathlib import Path

    for extra in sys.argv[2:]:
        importlib.import_module(extra)

    import sandbox

    modules = ["sandbox"] + [
        m.name for m in pkgutil.walk_packages(sandbox.__path__, "sandbox.") if m.name != "sandbox.__main__"
    ]
    modules.append("sandbox.__main__")  # guarded by __name__: importing it runs nothing
    for name in modules:
        importlib.import_module(name)

    import httpx
    from sandbox.app import create_app
    from sandbox.settings import Settings

    async def serve_a_few_calls(data_dir):
        app = create_app(Settings(data_dir=data_dir, processor_enabled=False, rate_limits=False))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            token = (await c.post("/auth/o2/token", data={
                "grant_type": "refresh_token", "refresh_token": "Atzr|sandbox-na-0001",
                "client_id": "amzn1.application-oa2-client.sandbox-demo", "client_secret": "sandbox-demo-secret",
            })).json()["access_token"]
            h = {"x-amz-access-token": token}
            us = {"marketplace_id": "ATVPDKIKX0DER"}
            attributes = {"item_name": [{"value": "Bag", "language_tag": "en_US", **us}]}
            put = await c.put("/listings/2021-08-01/items/A1SANDBOXNA0001/SKU-1",
                              params={"marketplaceIds": "ATVPDKIKX0DER"}, headers=h,
                              json={"productType": "LUGGAGE", "attributes": attributes})
            assert put.json()["status"] == "INVALID", put.text
            doc = await c.post("/feeds/2021-06-30/documents", headers=h, json={"contentType": "application/json"})
            feed = {"header": {"sellerId": "A1SANDBOXNA0001", "version": "2.0"}, "messages": [
                {"messageId": 1, "sku": "SKU-1", "operationType": "UPDATE", "productType": "LUGGAGE",
                 "attributes": attributes}]}
            await c.put(doc.json()["url"], json=feed, headers={"Content-Type": "application/json"})
            created = await c.post("/feeds/2021-06-30/feeds", headers=h, json={
                "feedType": "JSON_LISTINGS_FEED", "marketplaceIds": ["ATVPDKIKX0DER"],
                "inputFeedDocumentId": doc.json()["feedDocumentId"]})
            assert created.status_code == 202, created.text
            app.state.processor.run_once()
            app.state.processor.run_once()
            definition = await c.get("/definitions/2020-09-01/productTypes/LUGGAGE",
                                     params={"marketplaceIds": "ATVPDKIKX0DER"}, headers=h)
            assert definition.status_code == 200, definition.text

    with tempfile.TemporaryDirectory() as data_dir:
        asyncio.run(serve_a_few_calls(Path(data_dir)))

    plugins = str(Path(sys.argv[1]).resolve())
    ours = sorted(
        name for name, module in sys.modules.items()
        if name.split(".")[0] in ("spapi", "listings_pipeline")
        or str(getattr(module, "__file__", None) or "").startswith(plugins)
    )
    print(json.dumps({"modules": modules, "ours": ours}))
    """
)


def probe(*extra_imports: str) -> dict[str, list[str]]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(REPO / "plugins"), *extra_imports],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    data: dict[str, list[str]] = json.loads(result.stdout.strip().splitlines()[-1])
    return data


def test_a_fresh_interpreter_running_the_sandbox_loads_nothing_from_plugins() -> None:
    found = probe()
    assert set(found["modules"]) >= {
        f"sandbox.{p.stem}" for p in SANDBOX.glob("*.py") if p.stem != "__init__"
    }
    assert found["ours"] == [], f"the sandbox pulled in {found['ours']}"


def test_the_probe_sees_our_modules_when_they_are_loaded() -> None:
    """Without this the check above could pass by looking in the wrong place."""
    found = probe("spapi.rates", "listings_pipeline")
    assert "spapi.rates" in found["ours"] and "listings_pipeline" in found["ours"]


def _imports(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


@pytest.mark.parametrize("path", sorted(SANDBOX.glob("*.py")), ids=lambda p: p.name)
def test_no_sandbox_source_imports_ours_anywhere(path: Path) -> None:
    """Also imports inside functions, which a run may never reach."""
    ours = [name for name in _imports(path) if name.split(".")[0] in OURS]
    assert ours == []


def test_the_source_check_recognises_an_import_inside_a_function(tmp_path: Path) -> None:
    source = tmp_path / "lazy.py"
    source.write_text(
        "def f():\n    from spapi.product_types import ProductTypeSchemas\n    import listings_pipeline.to_amazon.bulk\n"
    )
    assert [n for n in _imports(source) if n.split(".")[0] in OURS] == [
        "spapi.product_types",
        "listings_pipeline.to_amazon.bulk",
    ]
