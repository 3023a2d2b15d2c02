/* The supervisor's wallboard: the centre's picture from /api/v1/live/board (Server-Sent
   Events), drawn with textContent only (no HTML from data); pause (with a reason) / ready /
   log out an operator. */
(() => {
  "use strict";
  const $ = (selector) => document.querySelector(selector);
  const boot = JSON.parse($("#boot").textContent);
  const T = boot.i18n;
  const LOCALES = { ru: "ru-RU", uk: "uk-UA", en: "en-GB" };

  const el = (tag, attrs = {}, ...children) => {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (key === "text") node.textContent = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else node.setAttribute(key, String(value));
    }
    node.append(...children);
    return node;
  };
  const mmss = (seconds) => {
    const whole = Math.max(0, Math.round(seconds || 0));
    return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, "0")}`;
  };
  const percent = (ratio) => `${Math.round((ratio || 0) * 100)} %`;

  // amber / red: below these service levels, above these waits
  function level(tile, value, amber, red, higherIsWorse) {
    const bad = (limit) => (higherIsWorse ? value >= limit : value < limit);
    tile.dataset.level = bad(red) ? "red" : bad(amber) ? "amber" : "ok";
  }

  function tile(id, text) {
    const node = $(`#${id}`);
    node.querySelector("b").textContent = text;
    return node;
  }

  async function act(userId, state, reason) {
    const body = state === "paused" ? { state, reason } : { state };
    const response = await fetch(`/api/v1/operators/${userId}/state`, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": boot.csrf },
      body: JSON.stringify(body),
    });
    if (!response.ok) {
      const problem = await response.json().catch(() => ({}));
      $("#updated").textContent = T.live_refused.replace("{detail}", problem.detail || response.status);
    }
  }

  // Today per topic: offered, answered, SL (coloured as the tiles), ASA, abandon rate.
  function showTopics(topics, L) {
    const rows = topics.map((t) => {
      const sl = el("td", { class: "num", text: t.offered ? percent(t.service_level) : "—" });
      if (t.offered) level(sl, t.service_level, ...L.sl, false);
      const abandoned = el("td", { class: "num", text: percent(t.abandon_rate) });
      level(abandoned, t.abandon_rate, ...L.abandon, true);
      return el("tr", { dataset: { topic: t.topic } },
        el("th", { scope: "row", text: t.topic || T.live_no_topic }),
        el("td", { class: "num", text: String(t.offered) }),
        el("td", { class: "num", text: String(t.answered) }),
        sl, el("td", { class: "num", text: mmss(t.asa_seconds) }), abandoned);
    });
    $("#topics tbody").replaceChildren(
      ...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 6, class: "muted", text: T.live_no_calls }))]),
    );
  }

  // Each team now: operators by state; today: answered, AHT.
  function showTeams(teams) {
    $("#teams tbody").replaceChildren(...teams.map((team) => el("tr", { dataset: { team: team.team } },
      el("th", { scope: "row", text: team.team || T.live_no_team }),
      el("td", { text: Object.entries(team.counts)
        .map(([state, count]) => `${T[`state_${state}`] || state}: ${count}`).join(" · ") }),
      el("td", { class: "num", text: String(team.answered) }),
      el("td", { class: "num", text: mmss(team.aht_seconds) }))));
  }

  function show(view) {
    const waiting = view.waiting.length;
    const longest = Math.max(0, ...view.waiting.map((w) => w.waited_seconds));
    const L = boot.levels;
    level(tile("tile-sl", percent(view.today.service_level)), view.today.service_level, ...L.sl, false);
    level(
      tile("tile-sl-interval", view.interval.offered ? percent(view.interval.service_level) : "—"),
      view.interval.offered ? view.interval.service_level : 1, ...L.sl, false,
    );
    level(tile("tile-waiting", String(waiting)), waiting, ...L.waiting, true);
    level(tile("tile-longest", mmss(longest)), longest, ...L.wait, true);
    tile("tile-asa", mmss(view.today.asa_seconds));
    tile("tile-answered", String(view.today.answered));
    level(tile("tile-abandoned", `${view.today.abandoned} · ${percent(view.today.abandon_rate)}`),
      view.today.abandon_rate, ...L.abandon, true);
    showTopics(view.topics, L);
    showTeams(view.teams);
    $("#counts").textContent = Object.entries(view.counts)
      .map(([state, count]) => `${T[`state_${state}`] || state}: ${count}`)
      .concat(view.plan_flags ? [T.live_plan_flags.replace("{count}", view.plan_flags)] : [])
      .join(" · ");
    const rows = view.operators.map((op) => {
      const state = el("td", { dataset: { state: op.state } },
        el("span", { class: "pill", text: T[`state_${op.state}`] || op.state }));
      if (op.reason) state.append(` ${T[`reason_${op.reason}`] || op.reason}`);
      // a pause off the published break plan (planning/pause_check.py)
      if (op.plan) {
        state.append(el("span", {
          class: "pill plan-flag",
          dataset: { plan: op.plan.kind },
          text: op.plan.kind === "over"
            ? T.live_plan_over.replace("{time}", mmss(op.plan.over_seconds))
            : T.live_plan_unplanned,
        }));
      }
      const actions = el("td");
      if (boot.can_act) {
        for (const [label, target] of [[T.live_act_pause, "paused"], [T.live_act_ready, "ready"], [T.live_act_offline, "offline"]]) {
          const button = el("button", { type: "button", class: "secondary small", text: label, dataset: { act: target } });
          button.addEventListener("click", () => act(op.id, target, $("#act-reason").value));
          actions.append(button);
        }
      }
      return el("tr", { dataset: op.plan ? { login: op.login, plan: op.plan.kind } : { login: op.login } },
        el("th", { scope: "row", text: op.full_name || op.login }),
        state,
        el("td", { class: "num", text: op.seconds_in_state == null ? "" : mmss(op.seconds_in_state) }),
        el("td", { text: op.call ? `${op.call.number} · ${mmss(op.call.seconds)}` : "" }),
        el("td", { class: "num", dataset: { figure: "handled" }, text: String(op.handled_today) }),
        actions);
    });
    $("#operators tbody").replaceChildren(...rows);
    $("#waiting-list").replaceChildren(
      ...(view.waiting.length
        ? view.waiting.map((w) => el("li", { text: `${mmss(w.waited_seconds)}${w.topic ? ` · ${w.topic}` : ""}` }))
        : [el("li", { class: "muted", text: T.live_nobody_waits })]),
    );
    $("#updated").textContent = T.live_updated.replace(
      "{time}", new Date(view.at).toLocaleTimeString(LOCALES[boot.lang] || "ru-RU", { timeZone: view.timezone }),
    );
  }

  // The picture comes over Server-Sent Events (/api/v1/live/board): within a fraction of
  // a second of a change, at least every second. A stream the server refused (the session
  // ended) is not retried by the browser: ask why, then log in again or reconnect.
  function offline() {
    $("#updated").textContent = T.live_offline;
  }

  function follow() {
    const source = new EventSource("/api/v1/live/board");
    source.addEventListener("board", (event) => show(JSON.parse(event.data)));
    source.addEventListener("unavailable", offline);
    source.addEventListener("error", async () => {
      offline();
      if (source.readyState !== EventSource.CLOSED) return; // the browser reconnects
      try {
        const response = await fetch("/api/v1/reports/live", { credentials: "same-origin" });
        if (response.status === 401) {
          window.location.assign("/operator/login?next=/supervisor/live&expired=1");
          return;
        }
      } catch {
        // the server is away: try again below
      }
      setTimeout(follow, 2000);
    });
  }

  follow();
})();
