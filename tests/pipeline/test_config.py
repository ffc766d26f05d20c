"""The pipeline config file: validation and relative paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from listings_pipeline.config import load_config


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pipeline.yaml"
    path.write_text(text)
    return path


def test_targets_and_relative_paths(tmp_path: Path) -> None:
    cfg = load_config(
        write(
            tmp_path,
            """
var_dir: var
sellers:
  - seller_id: A1SELLER
    spapi_conn_id: spapi_a
    marketplaces: [ATVPDKIKX0DER, A2EUQ1WTGCTBG2]
    catalog: data/catalog.csv
  - seller_id: A2SELLER
    spapi_conn_id: spapi_b
    region: eu
    marketplaces: [A1PA6795UKMFR9]
    catalog: s3://bucket/catalog/*.parquet
""",
        )
    )
    assert cfg.var_dir == tmp_path / "var"
    assert cfg.sellers[0].catalog == str(tmp_path / "data" / "catalog.csv")
    assert cfg.sellers[1].catalog == "s3://bucket/catalog/*.parquet"
    assert [(t["seller_id"], t["marketplace_id"]) for t in cfg.targets()] == [
        ("A1SELLER", "ATVPDKIKX0DER"),
        ("A1SELLER", "A2EUQ1WTGCTBG2"),
        ("A2SELLER", "A1PA6795UKMFR9"),
    ]
    assert cfg.seller("A2SELLER").spapi_conn_id == "spapi_b"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sellers: []", "at least 1"),
        (
            "sellers: [{seller_id: S, spapi_conn_id: c, marketplaces: [A1PA6795UKMFR9], catalog: x.csv}]",
            "not in region na",
        ),
        (
            "sellers: [{seller_id: S, spapi_conn_id: c, marketplaces: [XX], catalog: x.csv}]",
            "unknown marketplace",
        ),
        (
            "max_failing_share: 2\nsellers: [{seller_id: S, spapi_conn_id: c, marketplaces: [ATVPDKIKX0DER], catalog: x}]",
            "max_failing_share",
        ),
        ("- just a list", "must be a mapping"),
    ],
)
def test_invalid_configs_are_explained(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_config(write(tmp_path, text))


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nope\.yaml"):
        load_config(tmp_path / "nope.yaml")
