// The listing status page's only script: the replay buttons. Everything else is rendered on the server.
// A replay is a POST with a custom header (the server refuses writes without it: CSRF), sent with the
// Airflow session cookie; the answer names the dead_letter_replay run(s) it created. The banner then
// follows each run (GET replay-runs/<run id>) until it has finished, and says what became of its letters.
"use strict";

(function () {
  const body = document.body;
  const api = body.dataset.api;
  const dialog = document.getElementById("replay-dialog");
  const dialogText = document.getElementById("replay-dialog-text");
  const note = document.getElementById("replay-note");
  const result = document.getElementById("replay-result");
  const selectedButton = document.getElementById("replay-selected");
  const selectAll = document.getElementById("select-all");
  const apiNote = document.getElementById("replay-api-note");
  const feedNote = document.getElementById("replay-feed-note");
  const pollMs = Number(body.dataset.pollMs) || 2000;
  let pending = [];

  function rowOf(id) {
    return document.querySelector(`tr[data-letter-id="${id}"]`);
  }

  function picks() {
    return Array.from(document.querySelectorAll("input.pick:checked")).map((box) => Number(box.value));
  }

  function refreshSelection() {
    if (selectedButton) {
      const n = picks().length;
      selectedButton.disabled = n === 0;
      selectedButton.textContent = n ? `Replay selected (${n})` : "Replay selected";
    }
  }

  function describe(ids) {
    const rows = ids.map(rowOf).filter(Boolean);
    const sellers = new Set(rows.map((row) => row.dataset.seller));
    if (rows.length === 1) {
      return `Replay dead letter ${ids[0]} (SKU ${rows[0].dataset.sku}, seller ${rows[0].dataset.seller})?`;
    }
    return `Replay ${rows.length} dead letters of ${sellers.size} seller(s)? One run per seller.`;
  }

  function ask(ids) {
    pending = ids;
    dialogText.textContent = describe(ids);
    // what really happens depends on the letters' path: say it for the paths picked, and only those
    const paths = new Set(ids.map(rowOf).filter(Boolean).map((row) => row.dataset.path));
    if (apiNote) { apiNote.hidden = !paths.has("listings_api"); }
    if (feedNote) { feedNote.hidden = !paths.has("feed"); }
    note.value = "";
    dialog.showModal();
  }

  function show(kind, nodes) {
    result.hidden = false;
    result.className = kind;
    result.replaceChildren(...nodes);
  }

  // the server spells the run's URL in the Airflow UI (app.airflow_run_url), as for every other run link
  function runLink(url, runId) {
    const link = document.createElement("a");
    link.href = url;
    link.target = "_top";
    link.className = "run-link";
    link.textContent = runId;
    return link;
  }

  function sleep(ms) {
    return new Promise((resolve) => { setTimeout(resolve, ms); });
  }

  function showState(badge, state) {
    badge.className = `badge run-state run-${state}`;
    badge.textContent = state;
  }

  // What the finished run made of one letter, from its state now (and its attempts before the replay).
  function outcome(letter) {
    const row = rowOf(letter.id);
    const before = row ? Number(row.dataset.attempts) : null;
    switch (letter.state) {
      case "resolved":
        return "resolved";
      case "discarded":
        return "discarded";
      case "replayed":
        if (letter.path === "feed") {
          const fate = feedNote ? feedNote.querySelector(".fate").textContent.replace(/\s+/g, " ").trim() : "";
          return `requeued (its listing is back to ready): ${fate}`;
        }
        return "replayed, Amazon's answer still pending";
      case "open":
        if (before !== null && letter.attempts <= before) {
          return "still open: the run did not replay it (its log says why)";
        }
        return `failed again (attempt ${letter.attempts}): ${letter.reason}`;
      default:
        return letter.state;
    }
  }

  function showOutcomes(list, letters) {
    list.replaceChildren(...letters.map((letter) => {
      const item = document.createElement("li");
      item.dataset.letterId = letter.id;
      item.dataset.state = letter.state;
      item.textContent = `${letter.sku} (${letter.marketplace_id}, letter ${letter.id}): ${outcome(letter)}`;
      const row = rowOf(letter.id);
      if (row) {
        row.classList.replace("queued", `letter-${letter.state}`);
      }
      return item;
    }));
    list.hidden = false;
  }

  // Poll the run until Airflow says it has finished; a failed request is tried again, a refusal ends it.
  async function follow(run, badge, list) {
    const letters = run.matching_ids.map((id) => `letter_id=${id}`).join("&");
    const url = `${api}/replay-runs/${encodeURIComponent(run.run_id)}?${letters}`;
    for (;;) {
      await sleep(pollMs);
      let response;
      try {
        response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      } catch (err) {
        continue;
      }
      if (!response.ok) {
        showState(badge, `not followed (HTTP ${response.status})`);
        return;
      }
      const status = await response.json();
      showState(badge, status.state);
      if (status.state !== "queued") {  // it left the queue: the DAG is not (or no longer) paused
        document.getElementById("replay-paused")?.remove();
      }
      if (status.finished) {
        showOutcomes(list, status.letters);
        return;
      }
    }
  }

  async function replay(ids) {
    const headers = { "Content-Type": "application/json", Accept: "application/json" };
    headers[body.dataset.csrfHeader] = body.dataset.csrfValue;
    let response;
    try {
      response = await fetch(`${api}/dead-letters/replay`, {
        method: "POST",
        credentials: "same-origin",
        headers,
        body: JSON.stringify({ dead_letter_ids: ids, note: note.value.trim() || null }),
      });
    } catch (err) {
      show("error", [document.createTextNode(`The replay could not be sent: ${err}`)]);
      return;
    }
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) {
      const detail = typeof answer.detail === "string" ? answer.detail : JSON.stringify(answer.detail || answer);
      show("error", [document.createTextNode(`Replay refused (HTTP ${response.status}): ${detail}`)]);
      return;
    }
    const nodes = [];
    const followed = [];
    for (const run of answer.runs) {
      const line = document.createElement("p");
      line.className = "replay-run";
      line.dataset.runId = run.run_id;
      const badge = document.createElement("span");
      showState(badge, run.state);
      line.append(
        `Triggered ${answer.dag_id} run `,
        runLink(run.url, run.run_id),
        " ",
        badge,
        ` for seller ${run.seller_id}: it will replay ${run.matching_ids.length} open dead letter(s).`,
      );
      const list = document.createElement("ul");
      list.className = "letter-outcomes";
      list.hidden = true;
      nodes.push(line, list);
      followed.push([run, badge, list]);
      for (const id of run.selected_ids) {
        const row = rowOf(id);
        if (row) {
          row.classList.add("queued");
          row.querySelectorAll("button, input").forEach((el) => { el.disabled = true; });
        }
      }
    }
    if (answer.is_paused) {
      const warn = document.createElement("p");
      warn.id = "replay-paused";
      warn.textContent = `${answer.dag_id} is paused: the run waits in the queue until someone unpauses it.`;
      nodes.push(warn);
    }
    const skipped = Object.entries(answer.skipped || {});
    if (skipped.length) {
      const p = document.createElement("p");
      p.textContent = "Not replayed: " + skipped.map(([id, why]) => `${id} (${why})`).join("; ");
      nodes.push(p);
    }
    show("ok", nodes);
    refreshSelection();
    for (const [run, badge, list] of followed) {
      follow(run, badge, list);
    }
  }

  document.querySelectorAll("button.replay").forEach((button) => {
    button.addEventListener("click", () => ask([Number(button.dataset.id)]));
  });
  document.querySelectorAll("input.pick").forEach((box) => box.addEventListener("change", refreshSelection));
  if (selectAll) {
    selectAll.addEventListener("change", () => {
      document.querySelectorAll("input.pick:not(:disabled)").forEach((box) => { box.checked = selectAll.checked; });
      refreshSelection();
    });
  }
  if (selectedButton) {
    selectedButton.addEventListener("click", () => ask(picks()));
  }
  if (dialog) {
    dialog.addEventListener("close", () => {
      if (dialog.returnValue === "confirm" && pending.length) {
        replay(pending);
      }
      pending = [];
    });
  }
})();
