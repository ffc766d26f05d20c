// The listing status page's only script: the replay buttons. Everything else is rendered on the server.
// A replay is a POST with a custom header (the server refuses writes without it: CSRF), sent with the
// Airflow session cookie; the answer names the dead_letter_replay run(s) it created.
"use strict";

(function () {
  const body = document.body;
  const api = body.dataset.api;
  const airflowRoot = body.dataset.airflowRoot || "";
  const dialog = document.getElementById("replay-dialog");
  const dialogText = document.getElementById("replay-dialog-text");
  const note = document.getElementById("replay-note");
  const result = document.getElementById("replay-result");
  const selectedButton = document.getElementById("replay-selected");
  const selectAll = document.getElementById("select-all");
  let pending = [];

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
    const rows = ids.map((id) => document.querySelector(`tr[data-letter-id="${id}"]`)).filter(Boolean);
    const sellers = new Set(rows.map((row) => row.dataset.seller));
    if (rows.length === 1) {
      return `Replay dead letter ${ids[0]} (SKU ${rows[0].dataset.sku}, seller ${rows[0].dataset.seller})?`;
    }
    return `Replay ${rows.length} dead letters of ${sellers.size} seller(s)? One run per seller.`;
  }

  function ask(ids) {
    pending = ids;
    dialogText.textContent = describe(ids);
    note.value = "";
    dialog.showModal();
  }

  function show(kind, nodes) {
    result.hidden = false;
    result.className = kind;
    result.replaceChildren(...nodes);
  }

  function runLink(dagId, runId) {
    const link = document.createElement("a");
    link.href = `${airflowRoot}/dags/${encodeURIComponent(dagId)}/runs/${encodeURIComponent(runId)}`;
    link.target = "_top";
    link.className = "run-link";
    link.textContent = runId;
    return link;
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
    for (const run of answer.runs) {
      const line = document.createElement("p");
      line.className = "replay-run";
      line.append(
        `Triggered ${answer.dag_id} run `,
        runLink(answer.dag_id, run.run_id),
        ` (${run.state}) for seller ${run.seller_id}: it will replay ${run.matching_ids.length} open dead letter(s).`,
      );
      nodes.push(line);
      for (const id of run.selected_ids) {
        const row = document.querySelector(`tr[data-letter-id="${id}"]`);
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
