/* The break re-plan on the planning page (/supervisor/planning#schedule): from a time of
   the chosen day, for a volume of FACTOR × the forecast, the API proposes new places for
   the breaks not begun yet (POST /api/v1/planning/schedule/replan); the supervisor reads
   the changes and applies them (the same request with apply). Text by textContent only. */
(() => {
  "use strict";
  const $ = (selector) => document.querySelector(selector);
  const form = $("#sch-replan");
  const bootNode = $("#sch-boot");
  if (!form || !bootNode) return;
  const boot = JSON.parse(bootNode.textContent);
  const T = boot.words;
  const summary = $("#sch-replan-summary");
  const list = $("#sch-replan-changes");
  const applyButton = $("#sch-replan-apply");
  const fill = (text, params) =>
    text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
  const breaks = (items) =>
    items.map((b) => `${T[`sch_kind_${b.kind}`] || b.kind} ${b.from}–${b.to}`).join(", ") || "—";
  let proposed = null;

  async function replan(apply) {
    const body = {
      at: `${form.dataset.date}T${$("#sch-replan-at").value}`,
      factor: Number($("#sch-replan-factor").value),
      apply,
    };
    const response = await fetch("/api/v1/planning/schedule/replan", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": boot.csrf },
      body: JSON.stringify(body),
    });
    let answer = {};
    try {
      answer = await response.json();
    } catch (error) {
      answer = {};
    }
    return { response, answer, body };
  }

  function show(answer, at) {
    list.replaceChildren();
    summary.className = "";
    summary.textContent = fill(T.sch_replan_under, {
      at,
      before: answer.under_before,
      after: answer.under_after,
    });
    if (!answer.changes.length) {
      summary.textContent += ` ${T.sch_replan_none}`;
    }
    for (const change of answer.changes) {
      const item = document.createElement("li");
      item.dataset.shift = change.shift;
      item.textContent = fill(T.sch_replan_change, {
        operator: change.operator,
        before: breaks(change.before),
        after: breaks(change.after),
      });
      list.append(item);
    }
  }

  function refuse(response, answer) {
    summary.className = "error";
    list.replaceChildren();
    summary.textContent =
      response.status === 404 ? T.sch_replan_no_schedule : String(answer.detail || response.status);
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    applyButton.hidden = true;
    summary.textContent = "…";
    const { response, answer, body } = await replan(false);
    if (!response.ok) {
      refuse(response, answer);
      return;
    }
    proposed = body;
    show(answer, $("#sch-replan-at").value);
    applyButton.hidden = answer.changes.length === 0;
  });

  applyButton.addEventListener("click", async () => {
    if (!proposed) return;
    applyButton.disabled = true;
    const { response, answer } = await replan(true);
    applyButton.disabled = false;
    if (!response.ok) {
      refuse(response, answer);
      return;
    }
    applyButton.hidden = true;
    summary.className = "";
    summary.textContent = T.sch_replan_applied;
    window.location.reload();
  });
})();
