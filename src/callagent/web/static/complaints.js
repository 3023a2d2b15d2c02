/* The complaints register (/complaints): the table from GET /api/v1/complaints (undecided
   first by deadline) with its filters, a complaint's detail and history, the steps the
   user may take, the register form and the causes report, each through the API (which
   masks applicants and refuses what the user may not do; refusals are said in the page's
   language). Data is written with textContent only. */
(() => {
  "use strict";
  const $ = (selector) => document.querySelector(selector);
  const boot = JSON.parse($("#boot").textContent);
  const T = boot.i18n;
  const LANG = boot.lang;
  const LOCALES = { ru: "ru-RU", uk: "uk-UA", en: "en-GB" };
  let current = null; // the complaint shown in the detail panel

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
  // Every time in the office's time zone, whatever the browser's.
  function clock(iso) {
    if (!iso) return "";
    return new Date(iso).toLocaleString(LOCALES[LANG] || "ru-RU", {
      timeZone: boot.timezone,
      day: "2-digit",
      month: "2-digit",
      year: "numeric",
      hour: "2-digit",
      minute: "2-digit",
    });
  }

  // A deadline is the end of its last day (the next midnight): shown as that day.
  function dueDay(iso) {
    const day = new Date(Date.parse(iso) - 1000).toLocaleDateString(LOCALES[LANG] || "ru-RU", {
      timeZone: boot.timezone,
      day: "2-digit",
      month: "2-digit",
      year: "numeric",
    });
    return fill(T.cpl_due_by, { day });
  }

  /* ------------------------------------------------------------------ phones */
  const phones = new Map(); // raw -> as pages show it (+7 916 111-22-33); masked ones stay
  async function knowPhones(list) {
    const wanted = [
      ...new Set(list.filter((raw) => raw && !raw.includes("*") && !phones.has(raw) && raw.replace(/\D/g, "").length >= 7)),
    ];
    if (!wanted.length) return;
    try {
      const response = await api("POST", "/operator/phones", { numbers: wanted.slice(0, 100) });
      if (response.ok) {
        for (const [raw, shown] of Object.entries((await response.json()).numbers || {})) phones.set(raw, shown);
      }
    } catch {
      /* shown as they are */
    }
  }
  const phone = (raw) => phones.get(raw) || raw || "";

  /* --------------------------------------------------------------- the API */
  function api(method, url, body) {
    const headers = { "X-CSRF-Token": boot.csrf };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    return fetch(url, {
      method,
      credentials: "same-origin",
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  }
  // A refusal in the page's language: by its code (the statuses it names translated),
  // else the English detail on an English page, else what the HTTP status means.
  function errorText(body, status) {
    const code = body && body.code;
    if (code && T[`error_${code}`]) {
      const params = { ...(body.params || {}) };
      for (const key of ["status", "target"]) {
        if (params[key]) params[key] = statusWord(params[key]);
      }
      return fill(T[`error_${code}`], params);
    }
    if (LANG === "en" && body && typeof body.detail === "string") return body.detail;
    return T[`error_status_${status}`] || fill(T.error_status_other, { status });
  }
  async function call(method, url, body) {
    let response;
    try {
      response = await api(method, url, body);
    } catch {
      throw new Error(T.error_network);
    }
    if (response.status === 401) {
      window.location.assign(`/operator/login?next=/complaints&expired=1`);
      throw new Error(T.error_status_other.replace("{status}", "401"));
    }
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(errorText(data, response.status));
    return data;
  }

  const nameOf = (id) => (id == null ? "" : boot.names[String(id)] || fill(T.cpl_user, { id }));
  const statusWord = (status) => T[`complaint_status_${status}`] || status;
  const causeWord = (c) => (c.cause === "other" && c.cause_other ? `${T.complaint_cause_other}: ${c.cause_other}` : T[`complaint_cause_${c.cause}`] || c.cause);
  const pill = (status) => el("span", { class: "pill", dataset: { status }, text: statusWord(status) });
  function marks(c) {
    if (c.overdue) return el("span", { class: "mark-overdue", text: T.cpl_overdue_mark });
    if (c.due_soon) return el("span", { class: "mark-soon", text: T.cpl_soon_mark });
    return null;
  }

  /* ---------------------------------------------------------------- filters */
  const filters = {
    status: $("#f-status"),
    due: $("#f-due"),
    whose: $("#f-whose"),
    from: $("#f-from"),
    to: $("#f-to"),
    q: $("#f-q"),
  };
  const url = new URL(window.location.href);
  for (const [name, input] of Object.entries(filters)) {
    const value = url.searchParams.get(name);
    if (value) input.value = value;
  }
  // what GET /api/v1/complaints is asked: the filters as the API names them
  function query() {
    const params = new URLSearchParams({ limit: "200" });
    if (filters.status.value) params.set("status", filters.status.value);
    if (filters.due.value) params.set("due", filters.due.value);
    if (filters.whose.value === "mine") params.set("owner", "me");
    if (filters.from.value) params.set("from", filters.from.value);
    if (filters.to.value) params.set("to", filters.to.value);
    if (filters.q.value.trim()) params.set("q", filters.q.value.trim());
    return params.toString();
  }
  function keepFilters() {
    const next = new URL(window.location.href);
    for (const [name, input] of Object.entries(filters)) {
      if (input.value.trim()) next.searchParams.set(name, input.value.trim());
      else next.searchParams.delete(name);
    }
    if (current) next.searchParams.set("open", String(current.id));
    else next.searchParams.delete("open");
    window.history.replaceState(null, "", next.toString());
  }

  /* ---------------------------------------------------------- the register */
  let listTicket = 0;
  async function load() {
    const mineTicket = (listTicket += 1);
    $("#list-error").textContent = "";
    let page;
    let late;
    let soon;
    try {
      [page, late, soon] = await Promise.all([
        call("GET", `/api/v1/complaints?${query()}`),
        call("GET", "/api/v1/complaints?due=overdue&limit=1"),
        call("GET", "/api/v1/complaints?due=soon&limit=1"),
      ]);
    } catch (exc) {
      if (mineTicket === listTicket) $("#list-error").textContent = exc.message;
      return;
    }
    if (mineTicket !== listTicket) return; // a newer request is under way
    for (const [selector, word, total] of [["#overdue-count", T.cpl_overdue_count, late.total], ["#soon-count", T.cpl_soon_count, soon.total]]) {
      $(selector).textContent = fill(word, { count: total });
      $(selector).hidden = total === 0;
    }
    await knowPhones(page.items.map((c) => c.applicant_phone));
    const rows = page.items.map((c) => {
      const row = el(
        "tr",
        {
          dataset: { id: c.id, status: c.status, overdue: c.overdue ? "1" : "0" },
          class: c.overdue ? "overdue" : "",
          tabindex: "0",
          "aria-selected": current && current.id === c.id ? "true" : "false",
        },
        el("td", { text: String(c.id) }),
        el("td", { text: dueDay(c.deadline_at) }, marks(c)),
        el("td", {}, pill(c.status)),
        el("td", { class: "question", text: c.subject.length > 140 ? `${c.subject.slice(0, 140)}…` : c.subject }),
        el("td", { text: causeWord(c) }),
        el("td", { text: c.office }),
        el("td", { text: [c.applicant_name, phone(c.applicant_phone)].filter(Boolean).join(" · ") }),
        el("td", { dataset: { field: "owner" }, text: nameOf(c.owner_id) }),
      );
      row.addEventListener("click", () => openComplaint(c.id));
      row.addEventListener("keydown", (event) => {
        if (event.key === "Enter") openComplaint(c.id);
      });
      return row;
    });
    $("#register tbody").replaceChildren(...rows);
    $("#shown").textContent = page.total ? fill(T.cpl_shown, { shown: page.items.length, total: page.total }) : T.cpl_none;
  }

  /* ------------------------------------------------------------- the detail */
  function historyLine(h) {
    const who = nameOf(h.by_user_id) || "—";
    let text;
    if (h.action === "registered") text = fill(T.cpl_h_registered, { who });
    else if (h.action === "status") text = fill(T.cpl_h_status, { who, from: statusWord(h.from_status), to: statusWord(h.to_status) });
    else if (h.action === "assigned") text = fill(T.cpl_h_assigned, { who, owner: nameOf(h.owner_id) || T.cpl_nobody });
    else text = fill(T.cpl_h_edited, { who });
    if (h.action !== "edited" && h.note) text += ` (${h.note})`;
    return el("li", {}, el("time", { datetime: h.at, text: clock(h.at) }), ` — ${text}`);
  }

  function show(c) {
    current = c;
    $("#detail").hidden = false;
    $(".register-layout").classList.add("open");
    $("#detail-title").textContent = fill(T.cpl_detail, { id: c.id });
    $("#d-status").replaceChildren(pill(c.status), marks(c) || "");
    $("#d-subject").textContent = c.subject;
    $("#d-applicant").textContent = c.applicant_name || "—";
    $("#d-phone").textContent = phone(c.applicant_phone) || "—";
    $("#d-cause").textContent = causeWord(c);
    $("#d-office").textContent = c.office || T.cpl_office_none;
    $("#d-channel").textContent = T[`complaint_channel_${c.channel}`] || c.channel;
    $("#d-registered").textContent = clock(c.registered_at);
    $("#d-deadline").textContent = dueDay(c.deadline_at);
    $("#d-operator").textContent = nameOf(c.operator_id) || "—";
    $("#d-owner").textContent = nameOf(c.owner_id) || T.cpl_nobody;
    const callCell = $("#d-call");
    callCell.replaceChildren(
      c.call_id ? el("a", { href: `/calls/${c.call_id}`, text: fill(T.cpl_call_open, { id: c.call_id }) }) : "—",
    );
    $("#d-decision").textContent = c.decision || T.cpl_no_decision;
    $("#d-answer").textContent = c.answer || T.cpl_no_answer;
    $("#d-answered").textContent = c.answered_at
      ? `${T.cpl_answer_channel}: ${T[`complaint_channel_${c.answer_channel}`] || c.answer_channel} · ${T.cpl_answered_at}: ${clock(c.answered_at)}`
      : "";
    $("#d-history").replaceChildren(...c.history.map(historyLine));
    // The steps this user may take at this status; the API has the last word.
    const moves = boot.can.manage || (boot.me != null && c.owner_id === boot.me);
    for (const button of document.querySelectorAll("#d-actions button[data-to]")) {
      const to = button.dataset.to;
      button.hidden = !moves || !((to === "in_work" && c.status === "registered") || (to === "closed" && c.status === "answered"));
    }
    $("#decision-form").hidden = !(moves && c.status === "in_work");
    $("#c-decision").value = "";
    $("#answer-form").hidden = !(moves && c.status === "decided");
    $("#c-answer").value = "";
    const rejects = moves && ["registered", "in_work"].includes(c.status);
    const reopens = moves && ["decided", "answered", "closed", "rejected"].includes(c.status);
    $("#c-reject").hidden = !rejects;
    $("#c-reopen").hidden = !reopens;
    $("#note-form").hidden = !(rejects || reopens);
    $("#c-note").value = "";
    const assign = $("#assign-form");
    if (assign) {
      assign.hidden = !(boot.can.manage && !["closed", "rejected"].includes(c.status));
      $("#owner").value = c.owner_id == null ? "" : String(c.owner_id);
    }
    for (const row of document.querySelectorAll("#register tbody tr")) {
      row.setAttribute("aria-selected", row.dataset.id === String(c.id) ? "true" : "false");
    }
    keepFilters();
  }

  async function openComplaint(id) {
    $("#detail-error").textContent = "";
    $("#detail-note").textContent = "";
    try {
      const c = await call("GET", `/api/v1/complaints/${id}`);
      await knowPhones([c.applicant_phone]);
      show(c);
    } catch (exc) {
      $("#detail").hidden = false;
      $("#detail-error").textContent = exc.message;
    }
  }

  // A change to the open complaint: the detail and the register are read again after it.
  async function change(body, button) {
    if (!current) return;
    $("#detail-error").textContent = "";
    $("#detail-note").textContent = "";
    if (button) button.disabled = true;
    try {
      const c = await call("PATCH", `/api/v1/complaints/${current.id}`, body);
      await knowPhones([c.applicant_phone]);
      show(c);
      $("#detail-note").textContent = T.cpl_saved;
      load();
      loadCauses();
    } catch (exc) {
      $("#detail-error").textContent = exc.message;
    } finally {
      if (button) button.disabled = false;
    }
  }

  for (const button of document.querySelectorAll("#d-actions button[data-to]")) {
    button.addEventListener("click", () => change({ status: button.dataset.to }, button));
  }
  $("#decision-form").addEventListener("submit", (event) => {
    event.preventDefault();
    change({ status: "decided", decision: $("#c-decision").value }, $("#c-decide"));
  });
  $("#answer-form").addEventListener("submit", (event) => {
    event.preventDefault();
    change({ status: "answered", answer: $("#c-answer").value, answer_channel: $("#c-answer-channel").value }, $("#c-answer-save"));
  });
  $("#note-form").addEventListener("submit", (event) => event.preventDefault());
  $("#c-reject").addEventListener("click", () => change({ status: "rejected", note: $("#c-note").value }, $("#c-reject")));
  $("#c-reopen").addEventListener("click", () => change({ status: "in_work", note: $("#c-note").value }, $("#c-reopen")));
  const assignForm = $("#assign-form");
  if (assignForm) {
    assignForm.addEventListener("submit", (event) => {
      event.preventDefault();
      const value = $("#owner").value;
      change({ owner_id: value ? Number(value) : null }, $("#assign-submit"));
    });
  }
  $("#detail-hide").addEventListener("click", () => {
    current = null;
    $("#detail").hidden = true;
    $(".register-layout").classList.remove("open");
    keepFilters();
    load();
  });

  /* --------------------------------------------------------- a new complaint */
  const newButton = $("#new-complaint");
  if (newButton) {
    newButton.addEventListener("click", () => {
      $("#new-form-card").hidden = false;
      $("#n-subject").focus();
    });
    $("#n-cancel").addEventListener("click", () => {
      $("#new-form").reset();
      $("#new-form-card").hidden = true;
    });
    $("#new-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      $("#new-error").textContent = "";
      const body = {
        subject: $("#n-subject").value,
        cause: $("#n-cause").value,
        cause_other: $("#n-cause-other").value,
        office: $("#n-office").value,
        channel: $("#n-channel").value,
        applicant_name: $("#n-name").value,
        applicant_phone: $("#n-phone").value,
      };
      const submit = $("#n-submit");
      submit.disabled = true;
      try {
        const c = await call("POST", "/api/v1/complaints", body);
        $("#new-form").reset();
        $("#new-form-card").hidden = true;
        await load();
        await openComplaint(c.id);
        loadCauses();
      } catch (exc) {
        $("#new-error").textContent = exc.message;
      } finally {
        submit.disabled = false;
      }
    });
  }

  /* --------------------------------------------------------- causes report */
  // The register's period (its from/to filters; today by default) by cause and office.
  async function loadCauses() {
    if (!$("#causes")) return;
    $("#causes-error").textContent = "";
    const params = new URLSearchParams({ by: $("#causes-by").value });
    if (filters.from.value) params.set("from", filters.from.value);
    if (filters.to.value) params.set("to", filters.to.value);
    let report;
    try {
      report = await call("GET", `/api/v1/complaints/causes?${params}`);
    } catch (exc) {
      $("#causes-error").textContent = exc.message;
      return;
    }
    const rows = report.rows.map((r) =>
      el("tr", {}, el("td", { text: r.period }), el("td", { text: T[`complaint_cause_${r.cause}`] || r.cause }), el("td", { text: r.office || T.cpl_office_none }), el("td", { text: String(r.count) })),
    );
    $("#causes-table tbody").replaceChildren(...rows);
    $("#causes-none").hidden = rows.length > 0;
  }
  if ($("#causes")) {
    $("#causes-form").addEventListener("submit", (event) => {
      event.preventDefault();
      loadCauses();
    });
  }

  $("#filters").addEventListener("submit", (event) => {
    event.preventDefault();
    keepFilters();
    load();
    loadCauses();
  });
  for (const input of [filters.status, filters.due, filters.whose]) {
    input.addEventListener("change", () => {
      keepFilters();
      load();
    });
  }

  load();
  loadCauses();
  const opened = Number(url.searchParams.get("open"));
  if (opened > 0) openComplaint(opened);
  setInterval(() => {
    if (!document.hidden) load(); // overdue marks and others' changes
  }, 30000);
})();
