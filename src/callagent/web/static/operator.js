/* callagent: the operator's page and the login page. Plain JS, no build step.
 *
 * The page talks to the JSON API with the session cookie (and X-CSRF-Token on
 * unsafe calls) and follows /api/v1/live/events (Server-Sent Events). Wrap-up
 * drafts are kept in localStorage per wrap-up id until they are submitted, so an
 * expired session or a reload loses no typing.
 */
(() => {
  "use strict";

  const $ = (selector, root = document) => root.querySelector(selector);
  const el = (tag, attrs = {}, ...children) => {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "text") node.textContent = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child !== null && child !== undefined) {
        node.append(child instanceof Node ? child : document.createTextNode(String(child)));
      }
    }
    return node;
  };
  const fill = (text, vars = {}) =>
    text.replace(/\{(\w+)\}/g, (_, name) => (name in vars ? String(vars[name]) : `{${name}}`));

  /* ------------------------------------------------------------------ login */

  function loginPage() {
    const form = $("#login-form");
    const error = $("#login-error");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      error.textContent = "";
      const login = $("#login").value.trim();
      const password = $("#password").value;
      if (!login || !password) {
        error.textContent = form.dataset.incomplete;
        (login ? $("#password") : $("#login")).focus();
        return;
      }
      let response;
      try {
        response = await fetch("/api/v1/auth/login", {
          method: "POST",
          headers: { "Content-Type": "application/json", Accept: "application/json" },
          credentials: "same-origin",
          body: JSON.stringify({ login, password }),
        });
      } catch (exc) {
        error.textContent = fill(form.dataset.error, { detail: form.dataset.network });
        return;
      }
      if (response.ok) {
        window.location.assign(form.dataset.next || "/operator");
        return;
      }
      if (response.status === 401) {
        error.textContent = form.dataset.failed;
        $("#password").value = "";
        $("#password").focus();
      } else if (response.status === 429) {
        const seconds = response.headers.get("Retry-After") || "60";
        error.textContent = fill(form.dataset.throttled, { seconds });
      } else if (response.status === 422) {
        error.textContent = form.dataset.incomplete;
      } else {
        error.textContent = fill(form.dataset.error, { detail: response.status });
      }
    });
  }

  /* --------------------------------------------------------------- operator */

  function operatorPage() {
    const boot = JSON.parse($("#boot").textContent);
    const T = boot.i18n;
    const LANG = boot.lang;
    const me = boot.user;
    const csrf = boot.csrf;
    const label = (obj) => (obj ? obj[LANG] || obj.ru || obj.en || "" : "");
    const DRAFT = (id) => `callagent.wrapup-draft.${id}`;

    let skew = 0; // server clock minus ours, in ms (from the page's server_time)
    let forms = null; // GET /api/v1/wrapup-forms
    let current = null; // the wrap-up in the form
    let sessionLost = false;
    let live = null;
    let state = boot.state.state;
    let historyFor = null;
    let submitting = false; // one submission at a time
    let pendingTries = 0;
    let pendingNow = []; // pending wrap-ups, newest first
    let missedIds = ""; // the missed wrap-ups shown, to refresh "recent calls" when they change
    let preview = null; // the campaign entry offered to us (campaign_preview) until its call ends
    const previewHints = []; // {callKey, digits, hint} of recent previews, newest last

    class SessionLost extends Error {}
    class PageError extends Error {} // its message is in the page's language already

    // What went wrong, in the page's words: fetch rejects only when the server could
    // not be reached (the browser's own message is English).
    function thrownText(exc) {
      return exc instanceof PageError ? exc.message : T.error_network;
    }

    // Lists are refreshed on several events at once: only the newest answer is drawn.
    const tickets = {};
    function ticket(name) {
      tickets[name] = (tickets[name] || 0) + 1;
      const mine = tickets[name];
      return () => tickets[name] === mine;
    }

    function serverNow() {
      return Date.now() + skew;
    }
    const LOCALES = { ru: "ru-RU", uk: "uk-UA", en: "en-GB" };
    function clock(iso) {
      if (!iso) return "";
      return new Date(iso).toLocaleString(LOCALES[LANG] || "ru-RU", {
        day: "2-digit",
        month: "2-digit",
        hour: "2-digit",
        minute: "2-digit",
      });
    }
    function toast(text) {
      const box = $("#toast");
      box.textContent = text;
      box.classList.add("shown");
      clearTimeout(toast.timer);
      toast.timer = setTimeout(() => box.classList.remove("shown"), 4000);
    }
    // A refusal in the page's language: by its code (states and statuses it names are
    // values, translated too), else the English detail on an English page, else what
    // the HTTP status means.
    function errorText(body, status) {
      const code = body && body.code;
      if (code && T[`error_${code}`]) {
        const params = { ...(body.params || {}) };
        for (const key of ["state", "target"]) {
          if (params[key]) params[key] = T[`state_${params[key]}`] || params[key];
        }
        if (params.status) params.status = T[`wrapup_status_${params.status}`] || params.status;
        return fill(T[`error_${code}`], params);
      }
      if (LANG === "en" && body && typeof body.detail === "string") return body.detail;
      return T[`error_status_${status}`] || fill(T.error_status_other, { status });
    }

    /* Phone numbers as +7 993 619-64-92: the service formats them (libphonenumber, the
     * number's own country); the raw number stays in the element's data-number. */
    const phones = new Map(); // raw -> shown
    const formattable = (raw) =>
      typeof raw === "string" && !raw.includes("*") && raw.replace(/\D/g, "").length >= 7;
    function phone(raw) {
      return phones.get(raw) || raw || "";
    }
    async function knowPhones(list) {
      const wanted = [...new Set(list.filter((raw) => formattable(raw) && !phones.has(raw)))];
      for (let i = 0; i < wanted.length; i += 100) {
        try {
          const response = await api("POST", "/operator/phones", { numbers: wanted.slice(i, i + 100) });
          const body = response.ok ? await json(response) : null;
          for (const [raw, shown] of Object.entries((body && body.numbers) || {})) phones.set(raw, shown);
        } catch {
          return; // shown as they are
        }
      }
    }
    // ``node`` shows the number ``raw`` (or ``empty``); formatted as soon as it is known.
    function showPhone(node, raw, empty = "") {
      node.dataset.number = raw || "";
      node.textContent = raw ? phone(raw) : empty;
      if (raw && !phones.has(raw) && formattable(raw)) {
        knowPhones([raw]).then(() => {
          if (node.dataset.number === raw) node.textContent = phone(raw);
        });
      }
    }

    async function api(method, url, body) {
      if (sessionLost) throw new SessionLost();
      const options = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
      if (body !== undefined) {
        options.headers["Content-Type"] = "application/json";
        options.body = JSON.stringify(body);
      }
      if (method !== "GET") options.headers["X-CSRF-Token"] = csrf;
      const response = await fetch(url, options);
      if (response.status === 401) {
        onSessionLost();
        throw new SessionLost();
      }
      return response;
    }
    async function json(response) {
      try {
        return await response.json();
      } catch {
        return null;
      }
    }

    function onSessionLost() {
      if (sessionLost) return;
      sessionLost = true;
      if (current) saveDraft();
      if (live) live.close();
      $("#live-banner").hidden = true;
      const banner = $("#session-banner");
      banner.hidden = false;
      document.body.classList.add("session-lost");
      $("#login-again").focus();
    }

    /* ----------------------------------------------------------- state */

    function renderState(name, reason, at) {
      state = name;
      const node = $("#state");
      let text = T[`state_${name}`] || name;
      if (name === "paused" && reason) text += ` · ${T[`reason_${reason}`] || reason}`;
      node.textContent = text;
      node.dataset.state = name;
      document.body.dataset.state = name;
      $("#state-since").textContent = at ? fill(T.since, { time: clock(at) }) : "";
      $("#go-ready").disabled = name === "ready";
    }

    async function changeState(target) {
      const error = $("#state-error");
      error.textContent = "";
      const body = { state: target };
      if (target === "paused") body.reason = $("#pause-reason").value;
      try {
        const response = await api("POST", `/api/v1/operators/${me.id}/state`, body);
        const data = await json(response);
        if (response.ok) renderState(data.state, data.reason, data.since);
        else error.textContent = fill(T.state_refused, { detail: errorText(data, response.status) });
      } catch (exc) {
        if (!(exc instanceof SessionLost)) error.textContent = fill(T.error, { detail: thrownText(exc) });
      }
    }

    /* ------------------------------------------------------------ live */

    function connectLive() {
      if (sessionLost) return;
      live = new EventSource("/api/v1/live/events");
      live.addEventListener("open", () => {
        $("#live-banner").hidden = true;
      });
      live.addEventListener("state", (event) => onState(JSON.parse(event.data)));
      live.addEventListener("call", (event) => onCall(JSON.parse(event.data)));
      live.addEventListener("campaign_preview", (event) => onPreview(JSON.parse(event.data)));
      live.addEventListener("callback_preview", (event) => onCallbackPreview(JSON.parse(event.data)));
      live.addEventListener("error", async () => {
        if (live.readyState !== EventSource.CLOSED) {
          $("#live-banner").hidden = false; // the browser reconnects by itself
          return;
        }
        // Refused (e.g. 401): find out why before trying again.
        try {
          const response = await api("GET", "/api/v1/auth/me");
          if (response.ok) setTimeout(connectLive, 2000);
        } catch {
          if (!sessionLost) setTimeout(connectLive, 5000);
        }
      });
    }

    function onState(data) {
      const before = state;
      renderState(data.state, data.reason, data.at);
      document.body.dataset.liveState = data.state;
      if (data.state === "wrap_up") {
        pendingTries = 0;
        refreshPending(true);
      } else if (before === "wrap_up" || data.snapshot) {
        refreshPending(false);
      }
      if (before === "wrap_up" && data.state !== "wrap_up") {
        refreshRecent();
        refreshFigures();
        refreshQuestions();
      }
      // Offered but never connected (the dialer let us go): nothing to wait for.
      if (preview && !preview.callKey && !data.snapshot && FREE_STATES.has(data.state)) {
        hidePreview();
      }
    }

    /* --------------------------------------------------- campaign preview */

    const PREVIEW_FIELDS = [
      "campaign",
      "applicant_name",
      "phone",
      "case_number",
      "service",
      "office",
      "ready_date",
      "note",
      "attempt",
    ];
    const FREE_STATES = new Set(["ready", "paused", "offline", "unavailable"]);

    // An operator-mode campaign offers us a registry entry before dialling the applicant.
    function onPreview(data) {
      preview = { data, callKey: null };
      const digits = String(data.phone || "").replace(/\D/g, "");
      previewHints.push({ callKey: null, digits, hint: data.category_hint || null });
      if (previewHints.length > 20) previewHints.shift();
      const box = $("#preview");
      box.dataset.entryId = data.entry_id;
      box.dataset.attemptId = data.attempt_id;
      for (const key of PREVIEW_FIELDS) {
        const value = data[key];
        const shown = value !== null && value !== undefined && value !== "";
        const node = $(`#preview-${key.replaceAll("_", "-")}`);
        if (key === "phone") showPhone(node, shown ? String(value) : "");
        else node.textContent = shown ? String(value) : "";
        node.closest(".preview-field").hidden = !shown;
      }
      box.hidden = false;
    }

    /* ------------------------------------------------- call-back preview */

    // The call-back dialer tells us who we are about to call back before it rings our
    // phone: the applicant (masked by the live stream without calls:read_pii), the topic,
    // the window they asked for and the attempts so far. It stays until that call ends.
    let callbackChannel = null; // the Linkedid of the call it is about
    function onCallbackPreview(data) {
      callbackChannel = data.channel_id || null;
      const when = (iso) =>
        new Date(iso).toLocaleString(LOCALES[LANG] || "ru-RU", {
          timeZone: boot.timezone || undefined,
          day: "2-digit",
          month: "2-digit",
          hour: "2-digit",
          minute: "2-digit",
        });
      const values = {
        name: data.name || "",
        phone: data.phone || "",
        topic: data.topic || "",
        window:
          data.window_from && data.window_to
            ? T.cbp_window_text.replace("{start}", when(data.window_from)).replace("{end}", when(data.window_to))
            : "",
        attempt: data.max_attempts
          ? T.cbp_attempt_of.replace("{attempt}", data.attempt).replace("{max}", data.max_attempts)
          : String(data.attempt || ""),
      };
      for (const [key, value] of Object.entries(values)) {
        const node = $(`#cbp-${key}`);
        if (key === "phone") showPhone(node, value);
        else node.textContent = value;
        node.closest(".preview-field").hidden = value === "";
      }
      const box = $("#callback-preview");
      box.dataset.task = data.task_id;
      box.hidden = false;
    }

    function hideCallbackPreview(event) {
      if (!callbackChannel || event.phase !== "ended") return;
      if (!String(event.call_key || "").endsWith(`:${callbackChannel}`)) return;
      callbackChannel = null;
      $("#callback-preview").hidden = true;
    }

    function hidePreview() {
      preview = null;
      const box = $("#preview");
      box.hidden = true;
      delete box.dataset.entryId;
      delete box.dataset.attemptId;
    }

    // The first call after the preview is the one the dialer placed for it: the
    // preview's data when ``data`` is that call, else null.
    function linkPreview(data) {
      if (!preview) return null;
      if (!preview.callKey && data.phase !== "ended") {
        preview.callKey = data.call_key;
        previewHints[previewHints.length - 1].callKey = data.call_key;
      }
      if (preview.callKey !== data.call_key) return null;
      const offered = preview.data;
      if (data.phase === "ended") hidePreview();
      return offered;
    }

    // The category a previewed call suggests (by its call, else by the applicant's number).
    function previewHint(wrapup) {
      const tail = (value) => String(value || "").replace(/\D/g, "").slice(-10);
      for (let i = previewHints.length - 1; i >= 0; i -= 1) {
        const item = previewHints[i];
        if (wrapup.call_key && item.callKey === wrapup.call_key) return item.hint;
      }
      const number = tail(wrapup.caller_number);
      if (!number) return null;
      for (let i = previewHints.length - 1; i >= 0; i -= 1) {
        const item = previewHints[i];
        const free = !wrapup.call_key || !item.callKey; // no call key to tell them apart
        if (free && item.digits && item.digits.slice(-10) === number) return item.hint;
      }
      return null;
    }

    function onCall(event) {
      hideCallbackPreview(event);
      const offered = linkPreview(event);
      // The dialer rings our phone first: the call knows no applicant yet, the preview does.
      const data =
        offered && !event.caller_number
          ? { ...event, caller_number: offered.phone || "", caller_name: offered.applicant_name || "" }
          : event;
      const box = $("#caller");
      box.hidden = false;
      box.dataset.callKey = data.call_key;
      box.dataset.phase = data.phase;
      showPhone($("#caller-number"), data.caller_number, T.unknown_number);
      const digitsOf = (text) => String(text || "").replace(/\D/g, "");
      const nameDigits = digitsOf(data.caller_name);
      const nameIsNumber = nameDigits !== "" && nameDigits === digitsOf(data.caller_number); // shown above
      $("#caller-name").textContent = data.caller_name && !nameIsNumber ? data.caller_name : "";
      $("#caller-phase").textContent = T[`phase_${data.phase}`] || data.phase;
      if (data.phase === "ringing" && state === "ready") renderState("ringing", "", data.at);
      if (historyFor !== data.call_key) {
        historyFor = data.call_key;
        loadHistory(data.caller_number, data.call_key).then((ok) => {
          if (!ok && historyFor === data.call_key) historyFor = null; // again at the next phase
        });
      }
      if (data.phase === "ended") {
        refreshRecent();
        refreshFigures();
        refreshPending(true);
      }
    }

    // The caller's earlier calls and their wrap-ups; false when it could not be read.
    async function loadHistory(number, callKey) {
      const list = $("#caller-history");
      list.replaceChildren();
      if (!number) {
        list.append(el("li", { class: "muted", text: T.history_empty }));
        return true;
      }
      let items = [];
      try {
        let response = await api("GET", `/api/v1/callers/${encodeURIComponent(number)}/history`);
        if (response.status === 404 || response.status === 405) {
          // without the history endpoint: the operator's own calls with this number
          response = await api("GET", `/api/v1/calls?phone=${encodeURIComponent(number)}&limit=10`);
          const page = response.ok ? await json(response) : null;
          items = page ? page.items.map((call) => ({ call, wrapup: null })) : [];
        } else if (response.ok) {
          items = historyItems(await json(response));
        } else {
          list.append(el("li", { class: "error", text: T.history_failed }));
          return false;
        }
      } catch (exc) {
        if (!(exc instanceof SessionLost)) {
          list.append(el("li", { class: "error", text: T.history_failed }));
        }
        return false;
      }
      if (historyFor !== callKey) return true; // another call came meanwhile
      const now = await currentCallId(number, callKey);
      // not the call in progress itself
      const earlier = items.filter(
        (item) =>
          callKeyOf(item.call) !== callKey &&
          item.call.id !== now &&
          item.call.disposition !== "in_progress",
      );
      if (!earlier.length) {
        list.append(el("li", { class: "muted", text: T.history_empty }));
        return true;
      }
      for (const item of earlier.slice(0, 10)) list.append(historyLine(item));
      return true;
    }

    // The record id of the call going on now (history entries name calls by id).
    async function currentCallId(number, callKey) {
      try {
        const url = `/api/v1/calls?phone=${encodeURIComponent(number)}&limit=20`;
        const response = await api("GET", url);
        const page = response.ok ? await json(response) : null;
        const call = page && page.items.find((c) => callKeyOf(c) === callKey);
        return call ? call.id : null;
      } catch {
        return null;
      }
    }

    function callKeyOf(call) {
      if (!call) return null;
      if (call.call_key) return call.call_key;
      return call.node && call.linkedid ? `${call.node}:${call.linkedid}` : null;
    }

    function historyItems(body) {
      // {"calls": [...], "wrapups": [...]} or a list of calls with their wrap-ups
      const calls = Array.isArray(body) ? body : body.calls || body.items || [];
      const wrapups = (!Array.isArray(body) && body.wrapups) || [];
      return calls.map((call) => ({
        call,
        wrapup:
          call.wrapup ||
          (Array.isArray(call.wrapups) && call.wrapups.length ? call.wrapups[call.wrapups.length - 1] : null) ||
          wrapups.find((w) => (w.call_id && w.call_id === call.id) || w.call_key === callKeyOf(call)) ||
          null,
      }));
    }

    function categoryTitle(id) {
      const category = forms && forms.categories.find((c) => c.id === id);
      return category ? label(category.title) : id || "";
    }

    function wrapupSummary(wrapup) {
      if (!wrapup) return T.no_wrapup;
      if (wrapup.status && wrapup.status !== "submitted" && !wrapup.category) {
        // past its deadline it is missed, also in the second before the sweep marks it so
        const late = wrapup.deadline && Date.parse(wrapup.deadline) <= serverNow();
        const status = wrapup.status === "pending" && late ? "missed" : wrapup.status;
        return T[`wrapup_status_${status}`] || T.no_wrapup; // a status, not a card's title
      }
      const parts = [categoryTitle(wrapup.category)];
      const fields = wrapup.fields || {};
      const category = forms && forms.categories.find((c) => c.id === wrapup.category);
      if (category) {
        for (const spec of category.fields) {
          const value = fields[spec.name];
          if (value === undefined || value === null || value === "") continue;
          if (spec.type === "choice") {
            const option = spec.options.find((o) => o.value === value);
            parts.push(option ? label(option.label) : value);
          } else if (spec.type === "multi_choice" && Array.isArray(value)) {
            parts.push(
              value.map((v) => label((spec.options.find((o) => o.value === v) || {}).label) || v).join(", "),
            );
          }
          if (parts.length >= 3) break;
        }
      }
      return parts.filter(Boolean).join(" · ");
    }

    function historyLine(item) {
      const call = item.call || {};
      const who = call.operator_login ? ` · ${call.operator_login}` : "";
      return el(
        "li",
        {},
        el("time", { datetime: call.started_at, text: clock(call.started_at) }),
        ` ${T[`direction_${call.direction}`] || call.direction || ""}${who} — `,
        el("span", { class: "wrapup-summary", text: wrapupSummary(item.wrapup) }),
      );
    }

    /* --------------------------------------------------------- wrap-ups */

    async function loadForms() {
      if (forms) return forms;
      const response = await api("GET", "/api/v1/wrapup-forms");
      if (!response.ok) throw new PageError(errorText(await json(response), response.status));
      forms = await json(response);
      return forms;
    }

    async function refreshPending(openNewest) {
      const newest = ticket("pending");
      let items;
      try {
        const response = await api("GET", "/api/v1/wrapups/pending");
        if (!response.ok) return;
        items = await json(response);
      } catch {
        return;
      }
      await knowPhones(items.map((w) => w.caller_number));
      if (!newest()) return;
      const missed = items.filter((w) => w.status === "missed");
      renderMissed(missed);
      const missedNow = missed.map((w) => w.id).join(",");
      if (missedNow !== missedIds) {
        // a wrap-up's deadline passed (or one was completed): its row in "recent calls" says so
        missedIds = missedNow;
        refreshRecent();
      }
      if (current && !items.some((w) => w.id === current.id)) closeForm(); // done elsewhere
      const waiting = items
        .filter((w) => w.status === "pending")
        .sort((a, b) => String(b.started_at).localeCompare(String(a.started_at)));
      pendingNow = waiting;
      renderPending();
      if (current) {
        const fresh = items.find((w) => w.id === current.id);
        if (fresh) updateDeadline(fresh);
        const newer = waiting.find((w) => w.id !== current.id);
        const later = newer && String(newer.started_at) > String(current.started_at);
        if (openNewest && newer && (current.status === "missed" || later)) {
          // a call just ended: its form opens; the one being filled keeps its draft and
          // waits in the list above the form
          saveDraft();
          openForm(newer);
        }
        return;
      }
      const drafted = items.find((w) => loadDraft(w.id)); // typing left from before
      if (waiting.length && (openNewest || state === "wrap_up")) {
        openForm(waiting[0]);
      } else if (drafted) {
        openForm(drafted);
      } else if (!waiting.length && state === "wrap_up" && pendingTries < 10) {
        pendingTries += 1; // the call's record may still be on its way
        setTimeout(() => refreshPending(true), 300);
      }
    }

    // The pending wrap-ups, newest first, when there is more than one: the operator
    // switches between them (each keeps its draft).
    function renderPending() {
      const nav = $("#pending-nav");
      const list = $("#pending-list");
      list.replaceChildren();
      nav.hidden = pendingNow.length < 2;
      for (const wrapup of pendingNow) {
        const chosen = Boolean(current) && current.id === wrapup.id;
        const button = el("button", {
          type: "button",
          class: chosen ? "tab chosen" : "tab secondary",
          text: `${phone(wrapup.caller_number) || T.unknown_number} · ${clock(wrapup.started_at)}`,
          dataset: { wrapupId: wrapup.id, number: wrapup.caller_number || "" },
        });
        if (chosen) button.setAttribute("aria-current", "true");
        button.addEventListener("click", () => {
          if (chosen) return;
          saveDraft();
          openForm(wrapup);
        });
        list.append(el("li", {}, button));
      }
    }

    function renderMissed(items) {
      const list = $("#missed-list");
      list.replaceChildren();
      if (!items.length) {
        list.append(el("li", { class: "muted", text: T.missed_empty }));
        return;
      }
      for (const wrapup of items) {
        const button = el("button", { type: "button", class: "secondary", text: T.complete });
        button.addEventListener("click", () => openForm(wrapup));
        list.append(
          el(
            "li",
            { dataset: { wrapupId: wrapup.id } },
            el("span", {
              text: `${phone(wrapup.caller_number) || T.unknown_number} · ${clock(wrapup.started_at)} `,
              dataset: { number: wrapup.caller_number || "" },
            }),
            button,
          ),
        );
      }
    }

    async function openForm(wrapup) {
      try {
        await loadForms();
      } catch (exc) {
        if (!(exc instanceof SessionLost)) toast(fill(T.error, { detail: thrownText(exc) }));
        return;
      }
      current = wrapup;
      $("#toast").classList.remove("shown"); // news of the last call is old now
      const section = $("#wrapup");
      section.hidden = false;
      section.dataset.wrapupId = wrapup.id;
      document.body.classList.add("wrapup-open");
      $("#wrapup-error").textContent = "";
      $("#err-category").textContent = "";
      $("#wrapup-call").textContent = fill(T.wrapup_of, {
        number: phone(wrapup.caller_number) || T.unknown_number,
        time: clock(wrapup.started_at),
      });
      $("#wrapup-call").dataset.number = wrapup.caller_number || "";
      renderCategories();
      const draft = loadDraft(wrapup.id);
      const chosen = (draft && draft.category) || wrapup.category_hint || previewHint(wrapup);
      if (chosen) chooseCategory(chosen, draft ? draft.fields : null, false);
      else $("#fields").replaceChildren(el("p", { class: "muted", text: T.choose_category }));
      updateDeadline(wrapup);
      tick();
      renderPending();
      $("#wrapup-title").focus();
    }

    function closeForm() {
      current = null;
      const section = $("#wrapup");
      section.hidden = true;
      delete section.dataset.wrapupId;
      document.body.classList.remove("wrapup-open");
      $("#fields").replaceChildren();
    }

    function renderCategories() {
      const list = $("#category-list");
      list.replaceChildren();
      forms.categories.forEach((category, index) => {
        const key = category.hotkey || (index < 9 ? String(index + 1) : "");
        const input = el("input", {
          type: "radio",
          name: "category",
          id: `category-${category.id}`,
          value: category.id,
          "aria-keyshortcuts": key ? `${key} Alt+${key}` : null,
        });
        input.addEventListener("change", () => chooseCategory(category.id, null, true));
        list.append(
          el(
            "label",
            { for: `category-${category.id}`, class: "category" },
            input,
            key ? el("kbd", { text: key }) : null,
            ` ${label(category.title)}`,
          ),
        );
      });
    }

    function categoryByKey(key) {
      return forms.categories.find((c, index) => (c.hotkey || String(index + 1)) === key);
    }

    function chooseCategory(id, values, focusFirst) {
      const category = forms.categories.find((c) => c.id === id);
      if (!category) return;
      const radio = $(`#category-${CSS.escape(id)}`);
      if (radio) radio.checked = true;
      $("#err-category").textContent = "";
      const previous = values || (current ? collect(true).fields : {});
      const box = $("#fields");
      box.replaceChildren();
      for (const spec of category.fields) box.append(fieldRow(spec, previous[spec.name]));
      applyShowIf();
      saveDraft();
      if (focusFirst) {
        const first = box.querySelector(".field:not([hidden]) input, .field:not([hidden]) select, .field:not([hidden]) textarea");
        if (first) first.focus();
      }
    }

    function fieldRow(spec, value) {
      const id = `field-${spec.name}`;
      const errorId = `err-${spec.name}`;
      const row = el("div", { class: `field type-${spec.type}`, dataset: { field: spec.name } });
      const caption = [label(spec.label)];
      const mark = spec.required ? el("span", { class: "required", title: T.required, text: " *" }) : null;
      const common = {
        id,
        name: spec.name,
        "aria-describedby": errorId,
        "aria-required": spec.required ? "true" : null,
      };
      let control;
      if (spec.type === "choice") {
        control = el("select", common, el("option", { value: "", text: T.not_chosen }));
        for (const option of spec.options) {
          control.append(el("option", { value: option.value, text: label(option.label) }));
        }
        control.value = value || "";
        row.append(el("label", { for: id }, ...caption, mark), control);
      } else if (spec.type === "multi_choice") {
        const group = el("fieldset", { id, "aria-describedby": errorId, class: "options" });
        group.append(el("legend", {}, ...caption, mark));
        const chosen = Array.isArray(value) ? value : [];
        spec.options.forEach((option, index) => {
          const optionId = `${id}-${index}`;
          group.append(
            el(
              "label",
              { for: optionId },
              el("input", {
                type: "checkbox",
                id: optionId,
                name: spec.name,
                value: option.value,
                checked: chosen.includes(option.value),
              }),
              ` ${label(option.label)}`,
            ),
          );
        });
        row.append(group);
      } else if (spec.type === "boolean") {
        control = el("input", { ...common, type: "checkbox", checked: value === true });
        row.append(el("label", { for: id, class: "inline" }, control, " ", ...caption, mark));
      } else if (spec.type === "text" && !(spec.max_length && spec.max_length <= 255)) {
        control = el("textarea", { ...common, rows: 2, maxlength: spec.max_length || null });
        control.value = value || "";
        row.append(el("label", { for: id }, ...caption, mark), control);
      } else {
        const type = { date: "date", time: "time", datetime: "datetime-local", phone: "tel" }[spec.type] || "text";
        control = el("input", {
          ...common,
          type,
          maxlength: spec.max_length || null,
          autocomplete: "off",
          inputmode: spec.type === "phone" ? "tel" : null,
        });
        control.value = value === undefined || value === null ? "" : String(value).slice(0, type === "datetime-local" ? 16 : undefined);
        row.append(el("label", { for: id }, ...caption, mark), control);
      }
      row.append(el("p", { id: errorId, class: "error field-error" }));
      return row;
    }

    function specsOfCurrent() {
      const checked = $('input[name="category"]:checked');
      const category = checked && forms.categories.find((c) => c.id === checked.value);
      return category ? category.fields : [];
    }

    function readValue(spec) {
      const row = $(`.field[data-field="${CSS.escape(spec.name)}"]`);
      if (!row) return undefined;
      if (spec.type === "multi_choice") {
        return [...row.querySelectorAll("input[type=checkbox]:checked")].map((i) => i.value);
      }
      const control = row.querySelector("input, select, textarea");
      if (spec.type === "boolean") return control.checked;
      return control.value;
    }

    function shows(spec, values) {
      const rule = spec.show_if;
      if (!rule) return true;
      const value = values[rule.field];
      if (value === undefined || value === null || value === "") return false;
      const wanted = "in" in rule && Array.isArray(rule.in) ? rule.in : [rule.equals];
      if (Array.isArray(value)) return value.some((v) => wanted.includes(v));
      return wanted.includes(value);
    }

    function applyShowIf() {
      const visible = {};
      for (const spec of specsOfCurrent()) {
        const row = $(`.field[data-field="${CSS.escape(spec.name)}"]`);
        const show = shows(spec, visible);
        row.hidden = !show;
        if (show) {
          const value = readValue(spec);
          if (!(spec.type === "multi_choice" && !value.length)) visible[spec.name] = value;
        }
      }
    }

    // The submission: the category and the values of the fields shown (empty ones left out).
    function collect(includeHidden = false) {
      const checked = $('input[name="category"]:checked');
      const fields = {};
      if (!forms) return { category: null, fields };
      for (const spec of specsOfCurrent()) {
        const row = $(`.field[data-field="${CSS.escape(spec.name)}"]`);
        if (!row || (row.hidden && !includeHidden)) continue;
        const value = readValue(spec);
        if (value === "" || value === undefined || (Array.isArray(value) && !value.length)) continue;
        fields[spec.name] = value;
      }
      return { category: checked ? checked.value : null, fields };
    }

    function saveDraft() {
      if (!current) return;
      const data = collect(true);
      try {
        localStorage.setItem(DRAFT(current.id), JSON.stringify({ ...data, saved_at: Date.now() }));
      } catch {
        /* storage full or disabled: the form still works */
      }
    }
    function loadDraft(id) {
      try {
        return JSON.parse(localStorage.getItem(DRAFT(id)) || "null");
      } catch {
        return null;
      }
    }
    function dropDraft(id) {
      try {
        localStorage.removeItem(DRAFT(id));
      } catch {
        /* nothing to drop */
      }
    }

    function clearErrors() {
      for (const node of document.querySelectorAll("#wrapup .field-error")) node.textContent = "";
      for (const node of document.querySelectorAll("#wrapup [aria-invalid]")) node.removeAttribute("aria-invalid");
      $("#wrapup-error").textContent = "";
    }

    function showErrors(errors) {
      let first = null;
      for (const error of errors) {
        const name = error.field ?? (Array.isArray(error.loc) ? error.loc[error.loc.length - 1] : null);
        const message = error.message ?? error.msg ?? String(error);
        const slot = name ? $(`#err-${CSS.escape(String(name))}`) : null;
        if (slot) {
          slot.textContent = message;
          const control = $(`#field-${CSS.escape(String(name))}`);
          if (control) control.setAttribute("aria-invalid", "true");
          first = first || control;
        } else {
          const target = $("#err-category");
          target.textContent = target.textContent ? `${target.textContent} ${message}` : message;
          first = first || $('input[name="category"]');
        }
      }
      $("#wrapup-error").textContent = T.fix_fields;
      if (first) {
        const focusable = first.matches("fieldset") ? first.querySelector("input") : first;
        if (focusable) focusable.focus();
      }
    }

    async function submit() {
      if (!current || submitting) return;
      saveDraft();
      clearErrors();
      const data = collect();
      const wrapup = current;
      if (!data.category) {
        $("#err-category").textContent = T.choose_category;
        $("#wrapup-error").textContent = T.fix_fields;
        const first = $('input[name="category"]');
        if (first) first.focus();
        return;
      }
      const button = $("#wrapup-submit");
      button.disabled = true;
      submitting = true;
      try {
        const response = await api("POST", `/api/v1/wrapups/${wrapup.id}/submit`, data);
        const body = await json(response);
        if (response.ok) {
          dropDraft(wrapup.id);
          closeForm();
          toast(T.saved);
          refreshPending(pendingNow.length > 1); // the next one waiting opens
          refreshRecent();
          refreshFigures();
          setTimeout(checkStateAfterSubmit, 1500);
        } else if (response.status === 422 && body && Array.isArray(body.detail)) {
          showErrors(body.detail);
        } else {
          $("#wrapup-error").textContent = fill(T.error, { detail: errorText(body, response.status) });
        }
      } catch (exc) {
        if (!(exc instanceof SessionLost)) {
          $("#wrapup-error").textContent = fill(T.error, { detail: thrownText(exc) });
        }
      } finally {
        submitting = false;
        button.disabled = false;
      }
    }

    // The live stream brings the new state; if it is down, ask once.
    async function checkStateAfterSubmit() {
      if (live && live.readyState === EventSource.OPEN) return;
      try {
        const response = await api("GET", `/api/v1/operators/${me.id}/state-history?limit=1`);
        const rows = response.ok ? await json(response) : [];
        if (rows.length) renderState(rows[0].to_state, rows[0].reason, rows[0].at);
      } catch {
        /* the banner says what is wrong */
      }
    }

    async function extend() {
      if (!current || current.extended) return;
      try {
        const response = await api("POST", `/api/v1/wrapups/${current.id}/extend`);
        const body = await json(response);
        if (response.ok) {
          updateDeadline({ ...current, ...(body || {}), extended: true });
          toast(T.extended);
        } else {
          $("#wrapup-error").textContent = fill(T.error, { detail: errorText(body, response.status) });
        }
      } catch (exc) {
        if (!(exc instanceof SessionLost)) toast(fill(T.error, { detail: thrownText(exc) }));
      }
    }

    function updateDeadline(wrapup) {
      if (!current) return;
      current = { ...current, ...wrapup };
      $("#wrapup-extend").hidden = Boolean(current.extended) || current.status === "missed";
    }

    function tick() {
      const box = $("#countdown");
      if (!current) {
        box.textContent = "";
        return;
      }
      const deadline = current.deadline ? Date.parse(current.deadline) : NaN;
      const left = Math.round((deadline - serverNow()) / 1000);
      if (current.status === "missed" || !(left > 0)) {
        box.textContent = T.deadline_passed;
        box.classList.add("late");
        return;
      }
      box.classList.remove("late");
      const minutes = Math.floor(left / 60);
      const seconds = String(left % 60).padStart(2, "0");
      box.textContent = fill(T.left, { time: `${minutes}:${seconds}` });
      box.classList.toggle("soon", left <= 10);
    }

    /* ------------------------------------------------- lists: calls, questions */

    // My figures for today and this week (GET /api/v1/reports/operators/{id}/figures).
    function duration(seconds) {
      const whole = Math.round(seconds || 0);
      return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, "0")}`;
    }

    async function refreshFigures() {
      const newest = ticket("figures");
      let body;
      try {
        const response = await api("GET", `/api/v1/reports/operators/${me.id}/figures`);
        if (!response.ok) return;
        body = await json(response);
        await loadForms();
      } catch {
        return;
      }
      if (!newest()) return;
      const { today, week } = body;
      const rows = [
        ["handled", T.fig_handled, (p) => p.handled],
        ["aht", T.fig_aht, (p) => duration(p.aht_seconds)],
        ["acw", T.fig_acw, (p) => duration(p.acw_seconds)],
        ["submitted", T.fig_submitted, (p) => p.wrapups_submitted],
        ["missed", T.fig_missed, (p) => p.wrapups_missed],
      ];
      const categories = new Set([...Object.keys(today.categories), ...Object.keys(week.categories)]);
      for (const id of categories) {
        rows.push([`category-${id}`, categoryTitle(id), (p) => p.categories[id] || 0]);
      }
      const tbody = $("#figures-table tbody");
      tbody.replaceChildren(
        ...rows.map(([key, name, value]) =>
          el(
            "tr",
            { dataset: { figure: key } },
            el("th", { scope: "row", text: name }),
            el("td", { class: "num", text: value(today) }),
            el("td", { class: "num", text: value(week) }),
          ),
        ),
      );
    }

    async function refreshRecent() {
      const newest = ticket("recent");
      let page;
      let wrapups = [];
      try {
        const response = await api("GET", "/api/v1/calls?limit=10");
        if (!response.ok) return;
        page = await json(response);
        const mine = await api("GET", "/api/v1/wrapups?limit=50");
        if (mine.ok) {
          const body = await json(mine);
          wrapups = Array.isArray(body) ? body : body.items || [];
        }
      } catch {
        return;
      }
      try {
        await loadForms();
      } catch {
        /* summaries show category ids */
      }
      await knowPhones(page.items.map((call) => call.applicant_number));
      if (!newest()) return;
      const body = $("#recent-table tbody");
      body.replaceChildren();
      if (!page.items.length) {
        body.append(el("tr", {}, el("td", { colspan: 6, class: "muted", text: T.recent_empty })));
        return;
      }
      for (const call of page.items) {
        const key = callKeyOf(call);
        const wrapup =
          call.wrapup || wrapups.find((w) => (w.call_id && w.call_id === call.id) || w.call_key === key) || null;
        body.append(
          el(
            "tr",
            { dataset: { callId: call.id } },
            el("td", {}, el("time", { datetime: call.started_at, text: clock(call.started_at) })),
            el("td", { text: phone(call.applicant_number) || "—", dataset: { number: call.applicant_number || "" } }),
            el("td", { text: T[`direction_${call.direction}`] || call.direction, dataset: { direction: call.direction } }),
            el("td", {
              text: T[`disposition_${call.disposition}`] || call.disposition,
              dataset: { disposition: call.disposition },
            }),
            el("td", { text: call.talk_seconds === null ? "—" : Math.round(call.talk_seconds) }),
            el("td", { class: "wrapup-summary", text: wrapupSummary(wrapup) }),
          ),
        );
      }
    }

    async function refreshQuestions() {
      const newest = ticket("questions");
      let items;
      try {
        // this operator's questions whose answer is in and who asked to be called back
        const url = `/api/v1/questions?status=answered&operator_id=${me.id}&limit=50`;
        const response = await api("GET", url);
        if (!response.ok) return;
        const body = await json(response);
        items = (Array.isArray(body) ? body : body.items || []).filter(
          (q) => !q.answer_channel || q.answer_channel === "call_back",
        );
      } catch {
        return;
      }
      await knowPhones(items.flatMap((q) => [q.contact, q.applicant_phone]));
      if (!newest()) return;
      const section = $("#questions");
      const list = $("#questions-list");
      section.hidden = false;
      list.replaceChildren();
      if (!items.length) {
        list.append(el("li", { class: "muted", text: T.questions_empty }));
        return;
      }
      for (const question of items) {
        const button = el("button", { type: "button", text: T.callback });
        button.addEventListener("click", () => callBack(question, button));
        const who = [question.applicant_name, phone(question.contact || question.applicant_phone)]
          .filter(Boolean)
          .join(", ");
        list.append(
          el(
            "li",
            { dataset: { questionId: question.id } },
            el("strong", { text: who }),
            ` — ${question.text || question.question || ""}`,
            question.answer ? el("p", { class: "answer", text: question.answer }) : null,
            question.callback_at
              ? el("span", { class: "muted", text: fill(T.called_back, { time: clock(question.callback_at) }) })
              : null,
            button,
          ),
        );
      }
    }

    async function callBack(question, button) {
      button.disabled = true;
      try {
        const response = await api("POST", `/api/v1/questions/${question.id}/callback`, {});
        const body = await json(response);
        if (response.ok) {
          toast(T.callback_started);
          refreshQuestions();
        }
        else toast(fill(T.callback_failed, { detail: errorText(body, response.status) }));
      } catch (exc) {
        if (!(exc instanceof SessionLost)) toast(fill(T.callback_failed, { detail: thrownText(exc) }));
      } finally {
        setTimeout(() => {
          button.disabled = false;
        }, 3000);
      }
    }

    /* ------------------------------------------------------------ keys */

    function typing(target) {
      if (!target || !target.tagName) return false;
      if (target.isContentEditable || target.tagName === "TEXTAREA") return true;
      if (target.tagName !== "INPUT") return false;
      return !["radio", "checkbox", "button", "submit"].includes(target.type);
    }

    document.addEventListener("keydown", (event) => {
      if (sessionLost) return;
      if (current && event.ctrlKey && event.key === "Enter") {
        event.preventDefault();
        submit();
        return;
      }
      const digit = /^Digit([1-9])$/.exec(event.code) || /^Numpad([1-9])$/.exec(event.code);
      if (current && digit && !event.ctrlKey && !event.metaKey && (event.altKey || !typing(event.target))) {
        const category = categoryByKey(digit[1]);
        if (category) {
          event.preventDefault();
          chooseCategory(category.id, null, true);
        }
        return;
      }
      if (event.altKey && !event.ctrlKey && !event.metaKey) {
        if (event.code === "KeyR") {
          event.preventDefault();
          changeState("ready");
        } else if (event.code === "KeyP") {
          event.preventDefault();
          changeState("paused");
        } else if (event.code === "KeyE" && current) {
          event.preventDefault();
          extend();
        }
      }
    });

    /* ----------------------------------------------------------- wiring */

    $("#go-ready").addEventListener("click", () => changeState("ready"));
    $("#go-pause").addEventListener("click", () => changeState("paused"));
    $("#go-offline").addEventListener("click", () => changeState("offline"));
    $("#wrapup-form").addEventListener("submit", (event) => {
      event.preventDefault();
      submit();
    });
    $("#wrapup-form").addEventListener("input", () => {
      applyShowIf();
      saveDraft();
    });
    $("#wrapup-form").addEventListener("change", () => {
      applyShowIf();
      saveDraft();
    });
    $("#wrapup-extend").addEventListener("click", extend);
    $("#sign-out").addEventListener("click", async () => {
      try {
        await api("POST", "/api/v1/auth/logout");
      } catch {
        /* gone already */
      }
      window.location.assign("/operator/login");
    });
    for (const button of document.querySelectorAll("button[data-lang]")) {
      button.addEventListener("click", async () => {
        if (current) saveDraft();
        try {
          const response = await api("POST", "/operator/language", { language: button.dataset.lang });
          if (response.ok) window.location.reload();
        } catch {
          /* the banner says what is wrong */
        }
      });
    }

    skew = Date.parse(boot.server_time) - Date.now();
    renderState(boot.state.state, boot.state.reason, boot.state.at);
    if (boot.call) onCall(boot.call);
    setInterval(tick, 250);
    setInterval(refreshQuestions, 30000); // supervisors answer at any time
    connectLive();
    refreshPending(false);
    refreshRecent();
    refreshFigures();
    refreshQuestions();
  }

  // Pages with only the common header (body data-page="header": the campaign pages; and
  // the reports page): sign out, and the language switch, which keeps the page.
  function headerOnly() {
    const boot = JSON.parse($("#boot").textContent);
    const post = (url, body) =>
      fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": boot.csrf },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    $("#sign-out").addEventListener("click", async () => {
      try {
        await post("/api/v1/auth/logout");
      } catch {
        /* gone already */
      }
      window.location.assign("/operator/login");
    });
    for (const button of document.querySelectorAll("button[data-lang]")) {
      button.addEventListener("click", async () => {
        const url = new URL(window.location.href);
        url.searchParams.delete("lang");
        try {
          await post("/operator/language", { language: button.dataset.lang });
        } finally {
          // the same address with a #fragment would only scroll: load it again
          if (url.toString() === window.location.href) window.location.reload();
          else window.location.assign(url.toString());
        }
      });
    }
  }

  const page = document.body.dataset.page;
  if (page === "login") loginPage();
  else if (page === "operator") operatorPage();
  else if (page === "header") headerOnly();
})();
