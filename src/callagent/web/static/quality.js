/* The quality page (/quality): the evaluator's queue (GET /api/v1/quality/queue) with
   the call's recording (GET /api/v1/calls/{id}/recording) beside the scorecard form; the
   evaluations the user may see, an operator acknowledging or disputing their own; the
   open disputes (rejected with a note, or upheld by revising the evaluation); the quality
   report. Everything goes through the API, which says who may do what; refusals are said
   in the page's language. Data is written with textContent only. */
(() => {
  "use strict";
  const $ = (selector) => document.querySelector(selector);
  const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];
  const boot = JSON.parse($("#boot").textContent);
  const T = boot.i18n;
  const LANG = boot.lang;
  const LOCALES = { ru: "ru-RU", uk: "uk-UA", en: "en-GB" };
  const form = $("#scorecard");
  let evaluating = null; // {call_id, operator_name} or {revise: evaluation} being scored
  let shown = null; // the evaluation in the detail panel

  const fill = (text, params) =>
    text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
  const el = (tag, attrs = {}, ...children) => {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (key === "text") node.textContent = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else node.setAttribute(key, String(value));
    }
    node.append(...children.filter((child) => child !== null && child !== undefined));
    return node;
  };
  const clock = (iso) =>
    iso
      ? new Date(iso).toLocaleString(LOCALES[LANG] || "ru-RU", {
          timeZone: boot.timezone,
          day: "2-digit",
          month: "2-digit",
          year: "numeric",
          hour: "2-digit",
          minute: "2-digit",
        })
      : "";
  const dayIn = (date) => date.toLocaleDateString("en-CA", { timeZone: boot.timezone });
  const minutes = (seconds) =>
    seconds == null ? "" : `${Math.floor(seconds / 60)}:${String(Math.round(seconds % 60)).padStart(2, "0")}`;
  const percent = (value) => `${Number(value).toLocaleString(LOCALES[LANG] || "ru-RU", { maximumFractionDigits: 2 })} %`;
  const title = (id) => boot.titles[id] || id;

  /* --------------------------------------------------------------- the API */
  async function call(method, url, body) {
    const headers = { "X-CSRF-Token": boot.csrf };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(url, {
        method,
        credentials: "same-origin",
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new Error(T.error_network);
    }
    if (response.status === 401) {
      window.location.assign("/operator/login?next=/quality&expired=1");
      throw new Error(fill(T.error_status_other, { status: 401 }));
    }
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(errorText(data, response.status));
    return data;
  }
  // A refusal by its code (the item it names in the page's words), else the English detail
  // on an English page, else what the HTTP status means.
  function errorText(body, status) {
    const code = body && body.code;
    if (code && T[`error_${code}`]) {
      const params = { ...(body.params || {}) };
      if (params.item) params.item = title(params.item);
      return fill(T[`error_${code}`], params);
    }
    if (LANG === "en" && body && typeof body.detail === "string") return body.detail;
    return T[`error_status_${status}`] || fill(T.error_status_other, { status });
  }
  function notice(text) {
    const node = $("#notice");
    node.textContent = text;
    node.hidden = false;
  }

  /* ------------------------------------------------------------- the queue */
  async function loadQueue() {
    if (!boot.can.evaluate) return;
    const rows = await call("GET", "/api/v1/quality/queue");
    const body = $("#queue tbody");
    body.replaceChildren(
      ...rows.map((a) => {
        const button = el("button", { type: "button", class: "secondary", text: T.qa_evaluate });
        button.addEventListener("click", () => openScorecard(a));
        return el(
          "tr",
          { dataset: { call: a.call_id } },
          el("td", { text: fill(T.qa_call_at, { id: a.call_id, at: clock(a.call_started_at) }) }),
          el("td", { text: a.operator_name }),
          el("td", { text: minutes(a.talk_seconds) }),
          el("td", { text: T[`qa_kind_${a.kind}`] || a.kind }),
          el("td", {}, button),
        );
      }),
    );
    $("#queue-empty").hidden = rows.length > 0;
  }

  function resetForm(answers) {
    form.reset();
    for (const node of $$(".criterion", form)) {
      node.classList.remove("missing");
      const given = answers && answers[node.dataset.id];
      if (given) {
        const radio = node.querySelector(`input[type=radio][value="${given.answer}"]`);
        if (radio) radio.checked = true;
        node.querySelector(".comment").value = given.comment || "";
      }
    }
    $("#evaluate-error").textContent = "";
    preview();
  }

  function showPlayer(callId, recording) {
    const player = $("#player");
    const can = boot.can.listen && recording;
    player.hidden = !can;
    $("#no-recording").hidden = Boolean(can);
    if (can) player.src = `/api/v1/calls/${callId}/recording`;
    else player.removeAttribute("src");
  }

  function openScorecard(assignment) {
    evaluating = { call_id: assignment.call_id };
    $("#evaluate-title").textContent = fill(T.qa_evaluate_title, {
      id: assignment.call_id,
      operator: assignment.operator_name,
    });
    $("#call-facts").textContent = fill(T.qa_call_facts, {
      at: clock(assignment.call_started_at),
      talk: minutes(assignment.talk_seconds),
    });
    $("#reason-field").hidden = true;
    showPlayer(assignment.call_id, assignment.recording);
    resetForm(null);
    $("#evaluate-card").hidden = false;
    $("#evaluate-card").scrollIntoView({ block: "start" });
  }

  function openRevision(evaluation, note) {
    evaluating = { revise: evaluation };
    $("#evaluate-title").textContent = fill(T.qa_revise_title, {
      id: evaluation.id,
      operator: evaluation.operator_name,
    });
    $("#call-facts").textContent = fill(T.qa_call_facts, { at: clock(evaluation.call_started_at), talk: "" });
    $("#reason-field").hidden = false;
    $("#reason").value = note || "";
    showPlayer(evaluation.call_id, true);
    const given = Object.fromEntries(evaluation.answers.map((a) => [a.item_id, a]));
    resetForm(given);
    $("#overall").value = evaluation.comment || "";
    $("#evaluate-card").hidden = false;
    $("#evaluate-card").scrollIntoView({ block: "start" });
  }

  function collect() {
    const answers = {};
    let missing = null;
    for (const node of $$(".criterion", form)) {
      const checked = node.querySelector("input[type=radio]:checked");
      node.classList.toggle("missing", !checked);
      if (!checked) {
        missing = missing || node.dataset.id;
        continue;
      }
      answers[node.dataset.id] = { answer: checked.value, comment: node.querySelector(".comment").value.trim() };
    }
    return { answers, missing };
  }

  // The score as the server will count it: n/a out of the weights, partial half, a
  // critical error zero (shown while the evaluator answers; the server's is the one kept).
  function preview() {
    if (!form) return;
    let earned = 0;
    let possible = 0;
    let critical = false;
    for (const node of $$(".criterion", form)) {
      const checked = node.querySelector("input[type=radio]:checked");
      if (!checked) continue;
      if (node.dataset.critical) {
        critical = critical || checked.value === "yes";
        continue;
      }
      const weight = Number(node.dataset.weight);
      if (checked.value === "na") continue;
      possible += weight;
      earned += weight * ({ yes: 1, partial: 0.5, no: 0 }[checked.value] || 0);
    }
    const score = critical || !possible ? 0 : (100 * earned) / possible;
    $("#preview").textContent = fill(critical ? T.qa_preview_critical : T.qa_preview, { score: percent(score.toFixed(2)) });
  }

  if (form) {
    form.addEventListener("change", (event) => {
      const item = event.target.closest(".criterion");
      if (item && event.target.type === "radio") item.classList.remove("missing");
      $("#evaluate-error").textContent = "";
      preview();
    });
    $("#evaluate-hide").addEventListener("click", () => {
      $("#evaluate-card").hidden = true;
      $("#player").pause();
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const { answers, missing } = collect();
      const error = $("#evaluate-error");
      if (missing) {
        error.textContent = fill(T.error_quality_unanswered, { item: title(missing) });
        return;
      }
      const comment = $("#overall").value.trim();
      $("#submit-evaluation").disabled = true;
      try {
        let made;
        if (evaluating.revise) {
          made = await call("POST", `/api/v1/quality/evaluations/${evaluating.revise.id}/revisions`, {
            answers,
            comment,
            reason: $("#reason").value.trim(),
          });
          notice(fill(T.qa_revised, { id: made.id, score: percent(made.score) }));
        } else {
          made = await call("POST", "/api/v1/quality/evaluations", { call_id: evaluating.call_id, answers, comment });
          notice(fill(T.qa_saved, { id: made.call_id, score: percent(made.score) }));
        }
        $("#evaluate-card").hidden = true;
        $("#player").pause();
        await Promise.all([loadQueue(), loadEvaluations(), loadDisputes(), loadReport()]);
      } catch (failure) {
        error.textContent = failure.message;
      } finally {
        $("#submit-evaluation").disabled = false;
      }
    });
  }

  /* ------------------------------------------------------- the evaluations */
  function stateOf(e) {
    const r = e.response;
    if (e.superseded_by_id) return "superseded";
    if (!r) return "new";
    if (r.kind === "disputed" && r.outcome) return r.outcome;
    return r.kind;
  }
  const statePill = (e) => el("span", { class: "pill", dataset: { state: stateOf(e) }, text: T[`qa_state_${stateOf(e)}`] });
  const scoreCell = (e) =>
    el("td", {
      class: boot.pass_mark != null && e.score < boot.pass_mark ? "score below" : "score",
      text: percent(e.score) + (e.critical ? ` · ${T.qa_critical_short}` : ""),
    });

  async function loadEvaluations() {
    const page = await call("GET", "/api/v1/quality/evaluations?limit=200");
    $("#evaluations tbody").replaceChildren(
      ...page.items.map((e) => {
        const row = el(
          "tr",
          { dataset: { id: e.id }, tabindex: 0 },
          el("td", { text: fill(T.qa_call_at, { id: e.call_id, at: clock(e.call_started_at) }) }),
          el("td", { text: e.operator_name }),
          el("td", { text: e.evaluator_name }),
          scoreCell(e),
          el("td", {}, statePill(e)),
        );
        row.addEventListener("click", () => openDetail(e.id));
        row.addEventListener("keydown", (event) => event.key === "Enter" && openDetail(e.id));
        return row;
      }),
    );
    $("#evaluations-shown").textContent = page.total ? fill(T.qa_shown, { count: page.total }) : T.qa_none;
    if (shown) await openDetail(shown.id, false);
  }

  async function openDetail(id, scroll = true) {
    const e = await call("GET", `/api/v1/quality/evaluations/${id}`);
    shown = e;
    for (const row of $$("#evaluations tbody tr")) row.setAttribute("aria-selected", String(row.dataset.id === String(id)));
    $("#detail").hidden = false;
    $("#detail").parentElement.classList.add("open");
    $("#detail-title").textContent = fill(T.qa_detail_title, { id: e.call_id });
    $("#d-score").replaceChildren(
      el("strong", { text: fill(T.qa_score_is, { score: percent(e.score) }) }),
      e.critical ? el("span", { class: "mark-overdue", text: T.qa_critical_short }) : null,
      " ",
      statePill(e),
    );
    $("#d-meta").textContent = fill(T.qa_meta, {
      operator: e.operator_name,
      evaluator: e.evaluator_name,
      at: clock(e.submitted_at),
      revision: e.revision,
      scorecard: e.scorecard,
    }) + (e.revision_reason ? ` · ${fill(T.qa_revision_reason, { reason: e.revision_reason })}` : "");
    $("#d-comment").textContent = e.comment;
    $("#d-answers").replaceChildren(
      ...e.answers.map((a) =>
        el(
          "li",
          { dataset: { item: a.item_id } },
          el("strong", { text: `${title(a.item_id)}: ` }),
          document.createTextNode(a.critical ? T[`qa_critical_${a.answer}`] : T[`qa_answer_${a.answer}`]),
          a.comment ? el("span", { class: "muted", text: ` — ${a.comment}` }) : null,
        ),
      ),
    );
    const r = e.response;
    $("#d-response").textContent = r
      ? fill(T[`qa_response_${r.kind}`], { at: clock(r.at), note: r.note }) +
        (r.outcome ? ` ${fill(T[`qa_outcome_${r.outcome}`], { note: r.resolution })}` : "")
      : "";
    $("#respond-form").hidden = !(e.operator_id === boot.me && !r && !e.superseded_by_id);
    $("#detail-error").textContent = "";
    if (scroll) $("#detail").scrollIntoView({ block: "nearest" });
  }

  $("#detail-hide").addEventListener("click", () => {
    $("#detail").hidden = true;
    $("#detail").parentElement.classList.remove("open");
    shown = null;
  });
  async function respond(kind) {
    try {
      await call("POST", `/api/v1/quality/evaluations/${shown.id}/${kind}`, { note: $("#r-note").value.trim() });
      $("#r-note").value = "";
      notice(kind === "dispute" ? T.qa_disputed_notice : T.qa_acknowledged_notice);
      await loadEvaluations();
    } catch (failure) {
      $("#detail-error").textContent = failure.message;
    }
  }
  $("#r-acknowledge").addEventListener("click", () => respond("acknowledge"));
  $("#r-dispute").addEventListener("click", () => respond("dispute"));

  /* ------------------------------------------------------------ the sample */
  const sampleForm = $("#sample-form");
  if (sampleForm) {
    $("#s-week").value = dayIn(new Date(Date.now() - 7 * 86400000)); // last week by default
    sampleForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const minTalk = Number($("#s-min-talk").value);
      const body = {
        week: $("#s-week").value,
        per_operator: Number($("#s-count").value),
        evaluator_ids: [...$("#s-evaluators").selectedOptions].map((o) => Number(o.value)),
        seed: 0, // as `callagent quality sample` by default: the page and cron draw alike
        topic: $("#s-topic").value.trim() || null,
        min_talk_seconds: minTalk > 0 ? minTalk : null,
        with_complaint: $("#s-complaint").checked,
        repeat_callers: $("#s-repeat").checked,
      };
      try {
        const made = await call("POST", "/api/v1/quality/sample", body);
        $("#sample-error").textContent = "";
        notice(fill(T.qa_sample_done, { count: made.assigned.length, short: Object.keys(made.short).length }));
        await loadQueue();
      } catch (failure) {
        $("#sample-error").textContent = failure.message;
      }
    });
  }

  /* ---------------------------------------------------------- the disputes */
  async function loadDisputes() {
    if (!boot.can.evaluate) return;
    const rows = await call("GET", "/api/v1/quality/disputes");
    $("#disputes tbody").replaceChildren(
      ...rows.map(({ dispute, evaluation }) => {
        const note = el("input", { maxlength: 2000, autocomplete: "off", placeholder: T.qa_resolution, "aria-label": T.qa_resolution });
        const reject = el("button", { type: "button", class: "secondary", text: T.qa_reject });
        const revise = el("button", { type: "button", text: T.qa_revise });
        reject.addEventListener("click", async () => {
          try {
            await call("POST", `/api/v1/quality/disputes/${dispute.id}/resolve`, { outcome: "rejected", note: note.value.trim() });
            notice(T.qa_rejected_notice);
            await Promise.all([loadDisputes(), loadEvaluations()]);
          } catch (failure) {
            $("#disputes-error").textContent = failure.message;
          }
        });
        revise.addEventListener("click", async () => {
          try {
            openRevision(await call("GET", `/api/v1/quality/evaluations/${evaluation.id}`), note.value.trim());
          } catch (failure) {
            $("#disputes-error").textContent = failure.message;
          }
        });
        return el(
          "tr",
          { dataset: { id: dispute.id, evaluation: evaluation.id } },
          el("td", { text: fill(T.qa_call_at, { id: evaluation.call_id, at: clock(evaluation.call_started_at) }) }),
          el("td", { text: evaluation.operator_name }),
          scoreCell(evaluation),
          el("td", { class: "long-text", text: dispute.note }),
          el("td", {}, el("div", { class: "resolve" }, note, reject, revise)),
        );
      }),
    );
    $("#disputes-empty").hidden = rows.length > 0;
  }

  /* ------------------------------------------------------------ the report */
  const today = new Date();
  $("#rep-to").value = dayIn(today);
  $("#rep-from").value = dayIn(new Date(today.getTime() - 29 * 86400000));
  const cells = (...values) => el("tr", {}, ...values.map((value) => el("td", { text: value })));
  async function loadReport() {
    const params = new URLSearchParams({ from: $("#rep-from").value, to: $("#rep-to").value, by: $("#rep-by").value, lang: LANG });
    try {
      const r = await call("GET", `/api/v1/quality/report?${params}`);
      $("#report-error").textContent = "";
      $("#rep-summary").textContent = fill(T.qa_rep_summary, { count: r.evaluations, average: percent(r.average) });
      $("#rep-operators tbody").replaceChildren(...r.operators.map((o) => cells(o.name, o.evaluations, percent(o.average), o.critical)));
      $("#rep-teams tbody").replaceChildren(...r.teams.map((o) => cells(o.team || T.qa_no_team, o.evaluations, percent(o.average), o.critical)));
      $("#rep-trend tbody").replaceChildren(...r.trend.map((o) => cells(o.period, o.evaluations, percent(o.average))));
      $("#rep-criteria tbody").replaceChildren(...r.criteria.map((o) => cells(title(o.item_id), o.answered, percent(o.share))));
      $("#rep-errors tbody").replaceChildren(
        ...r.errors.map((o) => cells(title(o.item_id) + (o.critical ? ` · ${T.qa_critical_short}` : ""), o.count)),
      );
      $("#rep-calibration tbody").replaceChildren(
        ...r.calibration.criteria.map((o) => cells(title(o.item_id), o.calls, percent(o.mean_spread), percent(o.max_spread))),
      );
    } catch (failure) {
      $("#report-error").textContent = failure.message;
    }
  }
  $("#report-form").addEventListener("submit", (event) => {
    event.preventDefault();
    loadReport();
  });

  Promise.all([loadQueue(), loadEvaluations(), loadDisputes(), loadReport()]).catch((failure) => {
    $("#evaluations-shown").textContent = failure.message;
  });
})();
