// The calibration page: gives one call to several evaluators through
// POST /api/v1/quality/calibrations (quality:evaluate; the session's CSRF token). A
// refusal is said in the page's language from its code (error_<code>), else the HTTP
// status; the page's text is set with textContent only.
"use strict";
(function () {
  const boot = JSON.parse(document.getElementById("boot").textContent);
  const words = boot.i18n || {};
  const form = document.getElementById("calibration-form");
  const error = document.getElementById("calibration-error");
  const notice = document.getElementById("notice");
  const fill = (text, params) =>
    text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    error.textContent = "";
    const callId = Number(document.getElementById("c-call").value);
    const chosen = [...form.querySelectorAll("#c-evaluators input:checked")].map((box) =>
      Number(box.value),
    );
    if (chosen.length < 2) {
      error.textContent = words.qc_need_two;
      return;
    }
    const button = document.getElementById("c-submit");
    button.disabled = true;
    try {
      const response = await fetch("/api/v1/quality/calibrations", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": boot.csrf },
        body: JSON.stringify({ call_id: callId, evaluator_ids: chosen }),
      });
      const answer = await response.json().catch(() => ({}));
      if (response.ok) {
        notice.textContent = fill(words.qc_assigned, { id: callId, count: answer.length });
        notice.hidden = false;
        form.reset();
        return;
      }
      const code = answer && answer.code;
      error.textContent =
        (code && words["error_" + code] && fill(words["error_" + code], answer.params || {})) ||
        words["error_status_" + response.status] ||
        fill(words.error_status_other || "{status}", { status: response.status });
    } catch (ignored) {
      error.textContent = words.error_network || "network";
    } finally {
      button.disabled = false;
    }
  });
})();
