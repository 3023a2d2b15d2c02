/* The register of non-standard questions (/questions): the table from GET
   /api/v1/questions (soonest due first) with its filters, a question's detail and
   history, and the actions the user's scopes allow, each through the API (which masks
   applicants and refuses what the user may not do; refusals are said in the page's
   language). Data is written with textContent only. */
(() => {
  "use strict";
  const $ = (selector) => document.querySelector(selector);
  const boot = JSON.parse($("#boot").textContent);
  const T = boot.i18n;
  const LANG = boot.lang;
  const LOCALES = { ru: "ru-RU", uk: "uk-UA", en: "en-GB" };
  const WAITING = ["open", "escalated", "answered"]; // the applicant still waits
  const skew = Date.parse(boot.server_time) - Date.now();
  const serverNow = () => Date.now() + skew;
  let current = null; // the question shown in the detail panel

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

  /* ------------------------------------------------------------------ times */
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
  // The wall-clock parts of instant ``ms`` in the office's zone.
  function zoneParts(ms) {
    const parts = new Intl.DateTimeFormat("en-US", {
      timeZone: boot.timezone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    }).formatToParts(new Date(ms));
    const get = (type) => Number(parts.find((p) => p.type === type).value);
    return [get("year"), get("month"), get("day"), get("hour"), get("minute"), get("second")];
  }
  // The instant at which the office's clocks show y-m-d h:mi (twice: a DST edge).
  function officeTime(y, m, d, h, mi) {
    const wanted = Date.UTC(y, m - 1, d, h, mi);
    let guess = wanted;
    for (let i = 0; i < 2; i += 1) {
      const [py, pm, pd, ph, pmi, ps] = zoneParts(guess);
      guess += wanted - Date.UTC(py, pm - 1, pd, ph, pmi, ps);
    }
    return guess;
  }
  function endOfOfficeDay() {
    const [y, m, d] = zoneParts(serverNow());
    return officeTime(y, m, d + 1, 0, 0); // Date.UTC rolls the day over the month's end
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
        if (params[key]) params[key] = T[`question_status_${params[key]}`] || params[key];
      }
      return fill(T[`error_${code}`], params);
    }
    if (LANG === "en" && body && typeof body.detail === "string") return body.detail;
    return T[`error_status_${status}`] || fill(T.error_status_other, { status });
  }
  // The answer's JSON, or throws the refusal's text (in the page's language).
  async function call(method, url, body) {
    let response;
    try {
      response = await api(method, url, body);
    } catch {
      throw new Error(T.error_network);
    }
    if (response.status === 401) {
      window.location.assign(`/operator/login?next=/questions&expired=1`);
      throw new Error(T.error_status_other.replace("{status}", "401"));
    }
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(errorText(data, response.status));
    return data;
  }

  const nameOf = (id) => (id == null ? "" : boot.names[String(id)] || fill(T.qst_user, { id }));
  const statusWord = (status) => T[`question_status_${status}`] || status;
  const overdue = (q) => WAITING.includes(q.status) && Date.parse(q.due_at) < serverNow();
  const pill = (status) => el("span", { class: "pill", dataset: { status }, text: statusWord(status) });
  const mine = (q) => boot.me != null && (q.operator_id === boot.me || q.assignee_id === boot.me);

  /* ---------------------------------------------------------------- filters */
  const filters = { status: $("#f-status"), due: $("#f-due"), whose: $("#f-whose"), q: $("#f-q") };
  const url = new URL(window.location.href);
  for (const [name, input] of Object.entries(filters)) {
    const value = url.searchParams.get(name);
    if (value) input.value = value;
  }
  // what GET /api/v1/questions is asked: the filters as the API names them
  function query(extra = {}) {
    const params = new URLSearchParams({ limit: "200" });
    if (filters.status.value) params.set("status", filters.status.value);
    if (filters.q.value.trim()) params.set("q", filters.q.value.trim());
    if (filters.whose.value === "mine") params.set("mine", "true");
    if (filters.due.value) {
      params.set("waiting", "true");
      const until = filters.due.value === "overdue" ? serverNow() : endOfOfficeDay();
      params.set("due_before", new Date(until).toISOString());
    }
    for (const [key, value] of Object.entries(extra)) params.set(key, value);
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
    try {
      const lateQuery = new URLSearchParams({
        waiting: "true",
        due_before: new Date(serverNow()).toISOString(),
        limit: "1",
      });
      [page, late] = await Promise.all([
        call("GET", `/api/v1/questions?${query()}`),
        call("GET", `/api/v1/questions?${lateQuery}`),
      ]);
    } catch (exc) {
      if (mineTicket === listTicket) $("#list-error").textContent = exc.message;
      return;
    }
    if (mineTicket !== listTicket) return; // a newer request is under way
    const count = $("#overdue-count");
    count.textContent = fill(T.qst_overdue_count, { count: late.total });
    count.hidden = late.total === 0;
    await knowPhones(page.items.map((q) => q.applicant_phone));
    const rows = page.items.map((q) => {
      const late = overdue(q);
      const due = el("td", { text: clock(q.due_at) });
      if (late) due.append(el("span", { class: "mark-overdue", text: T.qst_overdue_mark }));
      const row = el(
        "tr",
        {
          dataset: { id: q.id, status: q.status, overdue: late ? "1" : "0" },
          class: late ? "overdue" : "",
          tabindex: "0",
          "aria-selected": current && current.id === q.id ? "true" : "false",
        },
        el("td", { text: String(q.id) }),
        due,
        el("td", {}, pill(q.status)),
        el("td", { class: "question", text: q.text.length > 140 ? `${q.text.slice(0, 140)}…` : q.text }),
        el("td", { text: [q.applicant_name, phone(q.applicant_phone)].filter(Boolean).join(" · ") }),
        el("td", { text: nameOf(q.operator_id) }),
        el("td", { dataset: { field: "assignee" }, text: nameOf(q.assignee_id) }),
      );
      row.addEventListener("click", () => openQuestion(q.id));
      row.addEventListener("keydown", (event) => {
        if (event.key === "Enter") openQuestion(q.id);
      });
      return row;
    });
    $("#register tbody").replaceChildren(...rows);
    $("#shown").textContent = page.total
      ? fill(T.qst_shown, { shown: page.items.length, total: page.total })
      : T.qst_none;
  }

  /* ------------------------------------------------------------- the detail */
  function history(q) {
    const steps = [
      [q.created_at, fill(T.qst_h_created, { who: nameOf(q.operator_id) || "—" })],
      [q.escalated_at, T.qst_h_escalated],
      [q.answered_at, fill(T.qst_h_answered, { who: nameOf(q.answered_by) || "—" })],
      [q.assigned_at, fill(T.qst_h_assigned, { who: nameOf(q.assignee_id) || T.qst_nobody, by: nameOf(q.assigned_by) || "—" })],
      [q.callback_at, fill(T.qst_h_callback, { who: nameOf(q.callback_by) || "—" })],
      [q.informed_at, T.qst_h_informed],
      [q.closed_at, T.qst_h_closed],
    ].filter(([at]) => at);
    steps.sort((a, b) => Date.parse(a[0]) - Date.parse(b[0]));
    return steps.map(([at, text]) => el("li", {}, el("time", { datetime: at, text: clock(at) }), ` — ${text}`));
  }

  function show(q) {
    current = q;
    $("#detail").hidden = false;
    $(".register-layout").classList.add("open");
    $("#detail-title").textContent = fill(T.qst_detail, { id: q.id });
    const status = $("#d-status");
    status.replaceChildren(pill(q.status));
    if (overdue(q)) status.append(el("span", { class: "mark-overdue", text: T.qst_overdue_mark }));
    $("#d-text").textContent = q.text;
    $("#d-applicant").textContent = q.applicant_name || "—";
    $("#d-phone").textContent = phone(q.applicant_phone) || "—";
    $("#d-channel").textContent = T[`answer_channel_${q.answer_channel}`] || q.answer_channel;
    $("#d-contact").textContent = (q.answer_channel === "email" ? q.contact : phone(q.contact)) || "—";
    $("#d-preferred").textContent = clock(q.preferred_time) || "—";
    $("#d-due").textContent = clock(q.due_at);
    $("#d-assignee").textContent = nameOf(q.assignee_id) || "—";
    $("#d-answer").textContent = q.answer || T.qst_no_answer;
    $("#d-source").textContent = q.answer_source_kind
      ? `${T.qst_source}: ${T[`answer_source_${q.answer_source_kind}`] || q.answer_source_kind}${q.answer_source_ref ? ` · ${q.answer_source_ref}` : ""}`
      : "";
    $("#d-history").replaceChildren(...history(q));
    // Actions the user's scopes allow for this question's status; the API has the last
    // word (a supervisor outside the question's group is refused, in the page's words).
    const can = boot.can;
    const own = mine(q) || can.answer;
    const visible = {
      escalated: can.write && q.status === "open" && own,
      informed: can.write && q.status === "answered",
      closed: can.write && ["open", "answered", "informed"].includes(q.status) && (own || q.status !== "open"),
    };
    for (const button of document.querySelectorAll("#d-actions button[data-to]")) {
      button.hidden = !visible[button.dataset.to];
    }
    const answering =
      (can.answer && q.status !== "closed") || (can.write && mine(q) && q.status === "open");
    $("#answer-form").hidden = !answering;
    $("#a-text").value = q.answer || "";
    $("#a-source").value = q.answer_source_kind || (can.answer ? "supervisor" : "regulation");
    $("#a-ref").value = q.answer_source_ref || "";
    const assign = $("#assign-form");
    if (assign) {
      assign.hidden = !(can.answer && q.status !== "closed");
      $("#assignee").value = q.assignee_id == null ? "" : String(q.assignee_id);
    }
    const number = q.answer_channel === "email" ? q.applicant_phone : q.contact || q.applicant_phone;
    $("#call-back").hidden = !(can.call && q.status !== "closed" && number);
    for (const row of document.querySelectorAll("#register tbody tr")) {
      row.setAttribute("aria-selected", row.dataset.id === String(q.id) ? "true" : "false");
    }
    keepFilters();
  }

  async function openQuestion(id) {
    $("#detail-error").textContent = "";
    $("#detail-note").textContent = "";
    try {
      const q = await call("GET", `/api/v1/questions/${id}`);
      await knowPhones([q.applicant_phone, q.contact]);
      show(q);
    } catch (exc) {
      $("#detail").hidden = false;
      $("#detail-error").textContent = exc.message;
    }
  }

  // A change to the open question: the detail and the register are read again after it.
  async function change(body, button) {
    if (!current) return;
    $("#detail-error").textContent = "";
    $("#detail-note").textContent = "";
    if (button) button.disabled = true;
    try {
      const q = await call("PATCH", `/api/v1/questions/${current.id}`, body);
      await knowPhones([q.applicant_phone, q.contact]);
      show(q);
      $("#detail-note").textContent = T.qst_saved;
      load();
    } catch (exc) {
      $("#detail-error").textContent = exc.message;
    } finally {
      if (button) button.disabled = false;
    }
  }

  for (const button of document.querySelectorAll("#d-actions button[data-to]")) {
    button.addEventListener("click", () => change({ status: button.dataset.to }, button));
  }
  $("#answer-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const body = {
      answer: $("#a-text").value,
      answer_source_kind: $("#a-source").value,
      answer_source_ref: $("#a-ref").value,
    };
    if (current && ["open", "escalated"].includes(current.status)) body.status = "answered";
    change(body, $("#a-submit"));
  });
  const assignForm = $("#assign-form");
  if (assignForm) {
    assignForm.addEventListener("submit", (event) => {
      event.preventDefault();
      const value = $("#assignee").value;
      change({ assignee_id: value ? Number(value) : null }, $("#assign-submit"));
    });
  }
  $("#call-back").addEventListener("click", async () => {
    if (!current) return;
    const button = $("#call-back");
    $("#detail-error").textContent = "";
    button.disabled = true;
    try {
      const placed = await call("POST", `/api/v1/questions/${current.id}/callback`, {});
      show(placed.question);
      $("#detail-note").textContent = T.qst_calling;
    } catch (exc) {
      $("#detail-error").textContent = exc.message;
    } finally {
      button.disabled = false;
    }
  });
  $("#detail-hide").addEventListener("click", () => {
    current = null;
    $("#detail").hidden = true;
    $(".register-layout").classList.remove("open");
    keepFilters();
    load();
  });

  /* --------------------------------------------------------- a new question */
  const newButton = $("#new-question");
  if (newButton) {
    newButton.addEventListener("click", () => {
      $("#new-form-card").hidden = false;
      $("#n-text").focus();
    });
    $("#n-cancel").addEventListener("click", () => {
      $("#new-form").reset();
      $("#new-form-card").hidden = true;
    });
    $("#new-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      $("#new-error").textContent = "";
      const body = {
        text: $("#n-text").value,
        applicant_name: $("#n-name").value,
        applicant_phone: $("#n-phone").value,
        answer_channel: $("#n-channel").value,
        contact: $("#n-contact").value,
      };
      const when = $("#n-time").value; // the office's wall clock: 2026-12-04T15:30
      if (when) {
        const [date, time] = when.split("T");
        const [y, m, d] = date.split("-").map(Number);
        const [h, mi] = time.split(":").map(Number);
        body.preferred_time = new Date(officeTime(y, m, d, h, mi)).toISOString();
      }
      const submit = $("#n-submit");
      submit.disabled = true;
      try {
        const q = await call("POST", "/api/v1/questions", body);
        $("#new-form").reset();
        $("#new-form-card").hidden = true;
        await load();
        await openQuestion(q.id);
      } catch (exc) {
        $("#new-error").textContent = exc.message;
      } finally {
        submit.disabled = false;
      }
    });
  }

  $("#filters").addEventListener("submit", (event) => {
    event.preventDefault();
    keepFilters();
    load();
  });
  for (const input of [filters.status, filters.due, filters.whose]) {
    input.addEventListener("change", () => {
      keepFilters();
      load();
    });
  }

  load();
  const opened = Number(url.searchParams.get("open"));
  if (opened > 0) openQuestion(opened);
  setInterval(() => {
    if (!document.hidden) load(); // overdue marks and others' changes
  }, 30000);
})();
