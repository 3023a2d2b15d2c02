/* The administrator's pages (users, API tokens, webhooks, do-not-call): every change
   goes through the JSON API with the session's CSRF token; the tables are then read
   again from the page itself (the server draws them, in the page's language and the
   centre's time zone), so the script never draws a row. A secret comes only in the
   API's answer to its creation: it is shown once here and kept nowhere. */
(() => {
  "use strict";
  const $ = (selector, root = document) => root.querySelector(selector);
  const main = $("main[data-admin]");
  if (!main) return;
  const boot = JSON.parse($("#boot").textContent);
  const T = boot.i18n;
  const fill = (text, vars = {}) =>
    text.replace(/\{(\w+)\}/g, (_, name) => (name in vars ? String(vars[name]) : `{${name}}`));

  // The form fields a 422 can name, and the label the page gives each.
  const FIELD_LABELS = {
    login: "adm_login",
    full_name: "adm_full_name",
    role: "adm_role",
    group: "adm_group",
    endpoints: "adm_phones",
    skills: "adm_skills",
    language: "adm_language",
    password: "adm_password",
    name: "adm_token_name",
    scopes: "adm_scopes",
    url: "adm_url",
    event_types: "adm_events",
    phone: "adm_dnc_phone",
    reason: "adm_dnc_reason",
  };

  /* A refusal in the page's language: by its code; an invalid field by its label;
     else the English detail on an English page, else what the HTTP status means. */
  function errorText(body, status, known = {}) {
    const code = body && body.code;
    if (code && T[`error_${code}`]) return fill(T[`error_${code}`], body.params || {});
    if (known[status]) return known[status];
    if (status === 422 && body && Array.isArray(body.detail) && body.detail.length) {
      const loc = body.detail[0].loc || [];
      const field = loc.find((part) => typeof part === "string" && FIELD_LABELS[part]);
      if (field) return fill(T.adm_field_error, { field: T[FIELD_LABELS[field]] });
    }
    if (boot.lang === "en" && body && typeof body.detail === "string") return body.detail;
    return T[`error_status_${status}`] || fill(T.error_status_other, { status });
  }

  async function api(method, url, body) {
    let response;
    try {
      response = await fetch(url, {
        method,
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": boot.csrf },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      return { ok: false, status: 0, data: null };
    }
    const data = response.status === 204 ? null : await response.json().catch(() => null);
    if (response.status === 401) window.location.assign("/operator/login?expired=1");
    return { ok: response.ok, status: response.status, data };
  }

  function say(node, text) {
    node.textContent = text;
  }

  function notice(text) {
    const node = $("#notice");
    node.textContent = text;
    node.hidden = !text;
  }

  function failure(node, result, known) {
    say(node, result.status === 0 ? T.error_network : errorText(result.data, result.status, known));
  }

  /* Read the page again and put its tables (and counts) in place of ours. */
  async function refresh() {
    const response = await fetch(window.location.href, { credentials: "same-origin" });
    if (!response.ok) return;
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
    for (const node of main.querySelectorAll("table[id] > tbody, #dnc-count")) {
      const id = node.id || node.parentElement.id;
      const twin = node.id ? fresh.getElementById(id) : $(`#${id} > tbody`, fresh);
      if (twin) node.replaceWith(document.adoptNode(twin));
    }
  }

  const list = (text) =>
    text
      .split(/[,;\s]+/)
      .map((part) => part.trim())
      .filter(Boolean);

  /* "passport:2, tax:1" -> {passport: 2, tax: 1}; null when a part is not topic:level. */
  function skillsOf(text) {
    const skills = {};
    for (const part of text.split(/[,;]+/).map((p) => p.trim()).filter(Boolean)) {
      const match = /^([^:\s]+)\s*:\s*(-?\d+)$/.exec(part);
      if (!match) return null;
      skills[match[1]] = Number(match[2]);
    }
    return skills;
  }

  // the API's own rules, checked first so the message names the field
  const LOGIN = /^[A-Za-z0-9_.@-]{1,64}$/;
  const ENDPOINT = /^[A-Za-z0-9]+\/[A-Za-z0-9_.@-]+$/;
  const passwordOk = (value) => value.length >= 8 && value.length <= 256;

  /* The user fields shared by the new-user and edit forms; a string when one is wrong. */
  function userFields(form) {
    const endpoints = list(form.elements.endpoints.value);
    const bad = endpoints.find((e) => !ENDPOINT.test(e));
    if (bad) return fill(T.adm_err_phone, { value: bad });
    const skills = skillsOf(form.elements.skills.value);
    if (skills === null) return T.adm_err_skills;
    return {
      full_name: form.elements.full_name.value.trim(),
      role: form.elements.role.value,
      group: form.elements.group.value.trim(),
      endpoints,
      skills,
      language: form.elements.language.value,
    };
  }

  function showSecret(title, secret) {
    $("#secret-title").textContent = title;
    $("#secret-value").value = secret;
    $("#secret-copied").textContent = "";
    $("#secret").hidden = false;
    $("#secret-value").select();
  }

  function secretPanel() {
    $("#secret-copy").addEventListener("click", async () => {
      const input = $("#secret-value");
      try {
        await navigator.clipboard.writeText(input.value);
        say($("#secret-copied"), T.adm_copied);
      } catch {
        input.select(); // the clipboard is refused (no permission): let them copy by hand
        say($("#secret-copied"), T.adm_copy_failed);
      }
    });
    $("#secret-done").addEventListener("click", () => {
      $("#secret-value").value = ""; // gone from this page too
      $("#secret").hidden = true;
    });
  }

  function usersPage() {
    const edit = $("#edit");
    let editing = null;
    main.addEventListener("click", async (event) => {
      const button = event.target.closest("button");
      if (!button) return;
      const row = button.closest("tr[data-json]");
      if (button.dataset.edit && row) {
        editing = JSON.parse(row.dataset.json);
        const form = $("#edit-form");
        form.elements.full_name.value = editing.full_name;
        form.elements.role.value = editing.role;
        form.elements.group.value = editing.group;
        form.elements.endpoints.value = editing.endpoints.join(", ");
        form.elements.skills.value = Object.entries(editing.skills)
          .map(([topic, level]) => `${topic}:${level}`)
          .join(", ");
        form.elements.language.value = editing.language;
        $("#password-form").elements.password.value = "";
        say($("#edit-error"), "");
        say($("#password-error"), "");
        $("#edit-title").textContent = fill(T.adm_edit_user, { login: editing.login });
        edit.hidden = false;
        edit.scrollIntoView({ block: "nearest" });
        form.elements.full_name.focus();
      } else if (button.dataset.activeToggle && row) {
        const user = JSON.parse(row.dataset.json);
        const active = button.dataset.to === "true";
        if (!active && !window.confirm(fill(T.adm_confirm_deactivate, { login: user.login }))) return;
        const result = await api("PATCH", `/api/v1/operators/${user.id}`, { active });
        if (!result.ok) notice(errorText(result.data, result.status));
        else notice("");
        await refresh();
      }
    });
    $("#edit-cancel").addEventListener("click", () => {
      edit.hidden = true;
      editing = null;
    });
    $("#edit-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!editing) return;
      const fields = userFields(event.target);
      if (typeof fields === "string") return say($("#edit-error"), fields);
      const result = await api("PATCH", `/api/v1/operators/${editing.id}`, fields);
      if (!result.ok) return failure($("#edit-error"), result);
      say($("#edit-error"), "");
      edit.hidden = true;
      notice(`${T.adm_saved}: ${editing.login}`);
      editing = null;
      await refresh();
    });
    $("#password-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!editing) return;
      const password = event.target.elements.password.value;
      if (!passwordOk(password)) return say($("#password-error"), T.adm_err_password);
      const result = await api("PATCH", `/api/v1/operators/${editing.id}`, { password });
      if (!result.ok) return failure($("#password-error"), result);
      event.target.elements.password.value = "";
      say($("#password-error"), "");
      notice(fill(T.adm_password_changed, { login: editing.login }));
    });
    $("#new-user").addEventListener("submit", async (event) => {
      event.preventDefault();
      const form = event.target;
      const error = $("#new-error");
      const login = form.elements.login.value.trim();
      if (!LOGIN.test(login)) return say(error, T.adm_err_login);
      const password = form.elements.password.value;
      if (!passwordOk(password)) return say(error, T.adm_err_password);
      const fields = userFields(form);
      if (typeof fields === "string") return say(error, fields);
      const result = await api("POST", "/api/v1/operators", { login, password, ...fields });
      if (!result.ok) return failure(error, result);
      say(error, "");
      form.reset();
      notice(fill(T.adm_user_added, { login }));
      await refresh();
    });
  }

  function tokensPage() {
    secretPanel();
    main.addEventListener("click", async (event) => {
      const button = event.target.closest("button[data-revoke]");
      if (!button) return;
      if (!window.confirm(fill(T.adm_confirm_revoke, { name: button.dataset.name }))) return;
      const result = await api("DELETE", `/api/v1/tokens/${button.dataset.revoke}`);
      notice(result.ok ? "" : errorText(result.data, result.status));
      await refresh();
    });
    $("#new-token").addEventListener("submit", async (event) => {
      event.preventDefault();
      const form = event.target;
      const error = $("#new-error");
      const name = form.elements.name.value.trim();
      if (!name) return say(error, T.adm_err_token_name);
      const scopes = [...form.querySelectorAll("input[name=scopes]:checked")].map((i) => i.value);
      if (!scopes.length) return say(error, T.adm_err_scopes);
      const result = await api("POST", "/api/v1/tokens", { name, scopes });
      if (!result.ok) return failure(error, result);
      say(error, "");
      form.reset();
      showSecret(fill(T.adm_secret_title, { name }), result.data.token);
      await refresh();
    });
  }

  function webhooksPage() {
    secretPanel();
    main.addEventListener("click", async (event) => {
      const button = event.target.closest("button");
      if (!button) return;
      if (button.dataset.stop) {
        if (!window.confirm(fill(T.adm_confirm_delete_sub, { url: button.dataset.url }))) return;
        const result = await api("DELETE", `/api/v1/webhooks/${button.dataset.stop}`);
        notice(result.ok ? "" : errorText(result.data, result.status));
        await refresh();
      } else if (button.dataset.redeliver) {
        const id = button.dataset.redeliver;
        const result = await api("POST", `/api/v1/webhooks/deliveries/${id}/redeliver`);
        notice(result.ok ? fill(T.adm_redelivered, { id }) : errorText(result.data, result.status));
        await refresh();
      }
    });
    $("#new-sub").addEventListener("submit", async (event) => {
      event.preventDefault();
      const form = event.target;
      const error = $("#new-error");
      const url = form.elements.url.value.trim();
      if (!/^https?:\/\/[^\s/]+/i.test(url)) return say(error, T.adm_err_url);
      const types = [...form.querySelectorAll("input[name=event_types]:checked")].map((i) => i.value);
      if (!types.length) return say(error, T.adm_err_events);
      const result = await api("POST", "/api/v1/webhooks", { url, event_types: types });
      if (!result.ok) return failure(error, result, { 422: T.adm_err_url });
      say(error, "");
      form.reset();
      showSecret(fill(T.adm_hook_secret_title, { url: result.data.url }), result.data.secret);
      await refresh();
    });
  }

  function dncPage() {
    main.addEventListener("click", async (event) => {
      const button = event.target.closest("button[data-remove]");
      if (!button) return;
      if (!window.confirm(fill(T.adm_confirm_remove, { phone: button.dataset.shown }))) return;
      const phone = encodeURIComponent(button.dataset.remove);
      const result = await api("DELETE", `/api/v1/do-not-call?phone=${phone}`);
      notice(result.ok ? "" : errorText(result.data, result.status, { 404: T.adm_err_dnc_not_listed }));
      await refresh();
    });
    $("#dnc-add").addEventListener("submit", async (event) => {
      event.preventDefault();
      const form = event.target;
      const error = $("#add-error");
      const phone = form.elements.phone.value.trim();
      const reason = form.elements.reason.value.trim();
      const invalid = { 422: fill(T.adm_err_dnc_phone, { phone }) };
      if (phone.replace(/\D/g, "").length < 3) return say(error, invalid[422]);
      const result = await api("POST", "/api/v1/do-not-call", { phone, reason });
      if (!result.ok) return failure(error, result, invalid);
      say(error, "");
      form.reset();
      notice(fill(T.adm_dnc_added, { phone }));
      await refresh();
    });
  }

  const pages = { users: usersPage, tokens: tokensPage, webhooks: webhooksPage, dnc: dncPage };
  pages[main.dataset.admin]();
})();
