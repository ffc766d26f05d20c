"""The demo's progress line: one count per task, however many instances mapping gives it.

Built from task instances as the REST API lists them, at three moments of a run whose ``check_chunk``
is mapped: before the chunks are known (one placeholder instance), part-way through the chunks, and
at the end. Counting instances, the total grew from 5 to 8 between the first two looks.
"""

from __future__ import annotations

from demo.airflow_api import RunProgress, TaskInstanceJson


def _ti(task_id: str, state: str | None, map_index: int = -1) -> TaskInstanceJson:
    return {"task_id": task_id, "state": state, "map_index": map_index}


def _chunks(*states: str | None) -> list[TaskInstanceJson]:
    return [_ti("check_chunk", state, i) for i, state in enumerate(states)]


def test_before_expansion_a_mapped_task_counts_once() -> None:
    progress = RunProgress.of(
        "running",
        [_ti("targets", "success"), _ti("split", "running", 0), _ti("check_chunk", None),
         _ti("join", None), _ti("outcome", None)],
    )  # fmt: skip

    assert progress.line() == ("run running: 1/5 tasks done (3 none, 1 running, 1 success); now: split[0]")


def test_part_way_through_the_total_stays_and_the_chunks_are_a_sub_count() -> None:
    progress = RunProgress.of(
        "running",
        [_ti("targets", "success"), _ti("split", "success", 0),
         *_chunks("success", "success", "running", "queued"), _ti("join", None), _ti("outcome", None)],
    )  # fmt: skip

    line = progress.line()
    assert line.startswith("run running: 2/5 tasks done (2 none, 1 running, 2 success); check_chunk 2/4")
    assert line.endswith("; now: check_chunk[2]")
    assert progress.tasks["check_chunk"].state == "running" and not progress.tasks["check_chunk"].done


def test_a_finished_mapped_task_is_done_and_takes_its_worst_instance_state() -> None:
    progress = RunProgress.of(
        "failed",
        [_ti("targets", "success"), _ti("split", "success", 0),
         *_chunks("success", "skipped", "success", "success"), _ti("join", "success"),
         _ti("outcome", "failed")],
    )  # fmt: skip

    assert progress.line() == "run failed: 5/5 tasks done (1 failed, 4 success)"
    assert progress.tasks["check_chunk"].done and progress.tasks["check_chunk"].state == "success"
    assert progress.failed_tasks == ["outcome"] and progress.needs_attention


def test_a_chunk_that_failed_fails_its_task_and_is_named() -> None:
    progress = RunProgress.of(
        "failed",
        [_ti("targets", "success"), *_chunks("success", "failed"), _ti("join", "upstream_failed")],
    )

    assert progress.line() == "run failed: 3/3 tasks done (1 failed, 1 success, 1 upstream_failed)"
    assert progress.failed_tasks == ["check_chunk[1]", "join"] and not progress.needs_attention


def test_progress_reads_every_page_of_task_instances() -> None:
    """The API server caps a page (``[api] maximum_page_limit``, 100 by default, whatever ``limit``
    asks): a run with more instances than a page is read to the end, or its count would stop there."""
    import httpx

    from demo.airflow_api import AirflowApi

    chunks = [_ti("check_chunk", "success", i) for i in range(230)]
    asked: list[tuple[str | None, str | None]] = []

    def server(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/taskInstances"):
            offset = int(request.url.params.get("offset", "0"))
            asked.append((request.url.params.get("offset"), request.url.params.get("order_by")))
            page = chunks[offset : offset + 100]
            return httpx.Response(200, json={"task_instances": page, "total_entries": len(chunks)})
        return httpx.Response(200, json={"state": "running", "note": None})

    api = AirflowApi("http://airflow.test", "admin", "secret")
    api._http = httpx.Client(base_url=api.base_url, transport=httpx.MockTransport(server))
    api._token = "token"
    try:
        progress = api.progress("catalog_feed_sync", "manual__1")
    finally:
        api.close()

    assert asked == [("0", "id"), ("100", "id"), ("200", "id")]
    assert progress.tasks["check_chunk"].instances == 230 and progress.tasks["check_chunk"].done
    assert progress.line() == "run running: 1/1 tasks done (1 success)"
