/* The staffing table's check by simulation (/supervisor/planning): start the simulation
   of an interval through the API, then wait for its result and show the page again with
   the simulated SL beside Erlang's. Data is written with textContent only. */
(() => {
  "use strict";
  const bootNode = document.querySelector("#sim-boot");
  if (!bootNode) return;
  const boot = JSON.parse(bootNode.textContent);
  const T = boot.words;
  const message = document.querySelector("#sim-message");
  const POLL_MS = 2000;

  async function api(method, path, body) {
    return fetch(`/api/v1/planning${path}`, {
      method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": boot.csrf },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  }

  // Poll a running simulation; the page is shown again once it has ended.
  async function follow(id) {
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      let response;
      try {
        response = await api("GET", `/simulations/${id}`);
      } catch (error) {
        continue; // the server restarting: try again
      }
      if (!response.ok) return;
      const job = await response.json();
      if (job.status !== "running") {
        window.location.reload();
        return;
      }
    }
  }

  for (const button of document.querySelectorAll(".sim-run")) {
    button.addEventListener("click", async () => {
      button.disabled = true;
      message.className = "";
      message.textContent = "…";
      const response = await api("POST", "/simulations", {
        start: button.dataset.start,
        interval: boot.interval,
      });
      if (response.ok) {
        const job = await response.json();
        message.textContent = T.sim_started;
        const running = document.createElement("span");
        running.className = "muted sim-running";
        running.textContent = T.sim_running;
        button.replaceWith(running);
        follow(job.id);
        return;
      }
      button.disabled = false;
      let problem = {};
      try {
        problem = await response.json();
      } catch (error) {
        problem = {};
      }
      message.className = "error";
      message.textContent =
        problem.code === "simulation_running"
          ? boot.words.error_simulation_running
          : String(problem.detail || response.status);
    });
  }

  for (const running of document.querySelectorAll(".sim-running[data-id]")) {
    follow(running.dataset.id);
  }
})();
