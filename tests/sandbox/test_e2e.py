"""End to end over real HTTP: uvicorn in a thread, the background processor, a dropped connection."""

from __future__ import annotations

import gzip
import json
import time

import httpx
import pytest

from .conftest import APP_ID, APP_SECRET, SELLER, SELLER_TOKEN, US, listings_path, luggage_attributes


def test_live_server_round_trip(live_server: str) -> None:
    with httpx.Client(base_url=live_server, timeout=10) as c:
        token = c.post(
            "/auth/o2/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": SELLER_TOKEN,
                "client_id": APP_ID,
                "client_secret": APP_SECRET,
            },
        ).json()["access_token"]
        h = {"x-amz-access-token": token}
        r = c.put(
            listings_path("E2E/1"),
            params={"marketplaceIds": US},
            headers=h,
            json={"productType": "LUGGAGE", "attributes": luggage_attributes()},
        )
        assert r.status_code == 200 and r.json()["status"] == "ACCEPTED"
        assert (
            c.get(listings_path("E2E/1"), params={"marketplaceIds": US}, headers=h).json()["sku"] == "E2E/1"
        )

        doc = c.post(
            "/feeds/2021-06-30/documents", headers=h, json={"contentType": "application/json"}
        ).json()
        assert doc["url"].startswith(live_server)
        feed = {
            "header": {"sellerId": SELLER, "version": "2.0"},
            "messages": [{"messageId": 1, "sku": "E2E/1", "operationType": "DELETE"}],
        }
        assert (
            c.put(
                doc["url"], content=json.dumps(feed).encode(), headers={"Content-Type": "application/json"}
            ).status_code
            == 200
        )
        feed_id = c.post(
            "/feeds/2021-06-30/feeds",
            headers=h,
            json={
                "feedType": "JSON_LISTINGS_FEED",
                "marketplaceIds": [US],
                "inputFeedDocumentId": doc["feedDocumentId"],
            },
        ).json()["feedId"]
        deadline = time.monotonic() + 10
        while (status := c.get(f"/feeds/2021-06-30/feeds/{feed_id}", headers=h).json())[
            "processingStatus"
        ] != "DONE":
            assert time.monotonic() < deadline, status
            time.sleep(0.05)
        result = c.get(f"/feeds/2021-06-30/documents/{status['resultFeedDocumentId']}", headers=h).json()
        raw = httpx.get(result["url"])
        assert "content-encoding" not in raw.headers
        report = json.loads(gzip.decompress(raw.content))
        assert report["summary"]["messagesAccepted"] == 1
        assert c.get(listings_path("E2E/1"), params={"marketplaceIds": US}, headers=h).status_code == 404

        # a dropped connection is a transport error for the client
        c.post("/_sandbox/faults", json={"rules": [{"kind": "drop", "operation": "getFeed", "count": 1}]})
        with pytest.raises(httpx.TransportError):
            c.get(f"/feeds/2021-06-30/feeds/{feed_id}", headers=h)
        assert c.get(f"/feeds/2021-06-30/feeds/{feed_id}", headers=h).status_code == 200
