/* The schedule on the planning page (/supervisor/planning#schedule): build and publish
   the week, pick a shift or a break in the grid or the break plan and change its times,
   each through the API (which checks the labour rules and refuses what would break
   one; refusals are said in the page's language). Data is written with textContent only. */
(() => {
  "use strict";
  const $ = (selector) => document.querySelector(selector);
  const bootNode = $("#sch-boot");
  if (!bootNode) return;
  const boot = JSON.parse(bootNode.textContent);
  const T = boot.words;
  const message = $("#sch-message");
  const fill = (text, params) =>
    text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));

  async function api(method, path, body) {
    return fetch(`/api/v1/planning${path}`, {
      method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": boot.csrf },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  }

  // A refusal in the page's language: a broken labour rule by its code's words.
  async function say(response) {
    let problem = {};
    try {
      problem = await response.json();
    } catch (error) {
      problem = {};
    }
    if (problem.code === "labour_rule") {
      const names = String(problem.params.rules || "")
        .split(",")
        .map((rule) => T[`sch_rule_${rule}`] || rule);
      message.textContent = fill(T.sch_rule_broken, { detail: names.join(", ") });
    } else if (response.status === 422 && /inbound calls|history/i.test(String(problem.detail))) {
      message.textContent = T.sch_no_history;
    } else {
      message.textContent = fill(T.sch_rule_broken, { detail: String(problem.detail || response.status) });
    }
    message.className = "error";
  }

  const build = $("#sch-build");
  if (build) {
    build.addEventListener("click", async () => {
      build.disabled = true;
      message.textContent = "…";
      const response = await api("POST", "/schedule/build", { week_start: $("#sch-week").value });
      build.disabled = false;
      if (response.ok) window.location.reload();
      else await say(response);
    });
  }

  const publish = $("#sch-publish");
  if (publish) {
    publish.addEventListener("click", async () => {
      const response = await api("POST", "/schedule/publish", {
        week_start: boot.week,
        published: publish.dataset.published === "true",
      });
      if (response.ok) window.location.reload();
      else await say(response);
    });
  }

  const form = $("#sch-edit");
  for (const button of document.querySelectorAll(".sch-pick")) {
    button.addEventListener("click", () => {
      if (!form) return;
      $("#sch-edit-kind").value = button.dataset.kind;
      $("#sch-edit-id").value = button.dataset.id;
      $("#sch-edit-date").value = button.dataset.date;
      $("#sch-edit-from").value = button.dataset.from;
      $("#sch-edit-to").value = button.dataset.to === "24:00" ? "23:59" : button.dataset.to;
      $("#sch-edit-from").focus();
    });
  }
  if (form) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const id = $("#sch-edit-id").value;
      const day = $("#sch-edit-date").value;
      const from = $("#sch-edit-from").value;
      const to = $("#sch-edit-to").value;
      if (!id || !day || !/^\d\d:\d\d$/.test(from) || !/^\d\d:\d\d$/.test(to) || to <= from) {
        message.textContent = T.sch_bad_time;
        message.className = "error";
        return;
      }
      const kind = $("#sch-edit-kind").value === "shift" ? "shifts" : "breaks";
      const response = await api("PATCH", `/schedule/${kind}/${id}`, {
        start: `${day}T${from}`,
        end: `${day}T${to}`,
      });
      if (response.ok) window.location.reload();
      else await say(response);
    });
  }
})();
