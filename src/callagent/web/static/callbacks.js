// The call-back page: reassigning an open call-back through PATCH /api/v1/callbacks/{id}
// (callbacks:manage; the session's CSRF token). Refusals are said in the page's language
// from their code (error_<code>); the page reloads to show the task as it is now.
"use strict";
(function () {
  const boot = JSON.parse(document.getElementById("boot").textContent);
  const words = boot.i18n || {};
  const message = document.getElementById("callbacks-message");

  function say(text, isError) {
    message.textContent = text;
    message.classList.toggle("error", Boolean(isError));
  }

  document.querySelectorAll("form.reassign").forEach(function (form) {
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      const chosen = form.querySelector("select").value;
      const body = { operator_id: chosen ? Number(chosen) : null };
      const button = form.querySelector("button");
      button.disabled = true;
      try {
        const response = await fetch("/api/v1/callbacks/" + form.dataset.task, {
          method: "PATCH",
          credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRF-Token": boot.csrf },
          body: JSON.stringify(body),
        });
        if (response.ok) {
          say(words.cbk_saved || "OK", false);
          window.location.reload();
          return;
        }
        let detail = String(response.status);
        try {
          const answer = await response.json();
          detail = (answer.code && words["error_" + answer.code]) || answer.detail || detail;
        } catch (ignored) { /* not JSON: the status says it */ }
        say((words.cbk_error || "{detail}").replace("{detail}", detail), true);
      } finally {
        button.disabled = false;
      }
    });
  });
})();
