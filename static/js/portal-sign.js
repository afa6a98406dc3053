/*!
 * CrewCommand — portal-sign.js: the estimate signing form (CSP-safe: no eval, no inline code).
 *
 * Needs static/vendor/signature_pad (global SignaturePad), loaded before this file.
 *  - "Draw" / "Type" choice (input[name=method]) shows the pad or the typed preview; with
 *    JavaScript, drawing is the default for a fresh form; keyboard users pick "Type".
 *  - The canvas keeps its strokes when the phone rotates (redrawn at the new pixel ratio).
 *  - On submit, the strokes go to input[name=strokes] as
 *    {"w": cssWidth, "h": cssHeight, "strokes": [[x, y, x, y, ...], ...]}: numbers only; the
 *    server builds the SVG itself. An empty pad stops the submit with a message.
 *  - The submit button is disabled after the first submit (no double signatures).
 */
(function () {
  "use strict";

  function round(n) { return Math.round(n * 10) / 10; }

  function init() {
    var form = document.getElementById("accept-form");
    if (!form) return;
    var canvas = form.querySelector("[data-sign-canvas]");
    var padBox = form.querySelector("[data-sign-pad]");
    var typedBox = form.querySelector("[data-sign-typed]");
    var preview = form.querySelector("[data-sign-preview]");
    var strokes = form.querySelector("input[name=strokes]");
    var errorBox = form.querySelector("[data-sign-error]");
    var nameInput = form.querySelector("input[name=signer_name]");
    var radios = form.querySelectorAll("input[name=method]");
    var clearBtn = form.querySelector("[data-sign-clear]");
    var submit = form.querySelector("[data-sign-submit]");
    var pad = null;
    var lastWidth = 0;

    function method() {
      for (var i = 0; i < radios.length; i++) if (radios[i].checked) return radios[i].value;
      return "typed";
    }

    function setMethod(value) {
      for (var i = 0; i < radios.length; i++) radios[i].checked = radios[i].value === value;
    }

    function resize(force) {
      if (!pad || !canvas.offsetWidth) return;
      if (!force && canvas.offsetWidth === lastWidth) return;
      lastWidth = canvas.offsetWidth;
      var ratio = Math.max(window.devicePixelRatio || 1, 1);
      var data = pad.toData();
      canvas.width = canvas.offsetWidth * ratio;
      canvas.height = canvas.offsetHeight * ratio;
      canvas.getContext("2d").scale(ratio, ratio);
      pad.clear();
      if (data.length) pad.fromData(data);
    }

    function showError(text) {
      if (!errorBox) return;
      errorBox.textContent = text || "";
      errorBox.hidden = !text;
    }

    function sync() {
      var drawn = method() === "drawn" && pad !== null;
      if (padBox) padBox.hidden = !drawn;
      if (typedBox) typedBox.hidden = drawn;
      if (drawn) resize(true);
      showError("");
    }

    if (canvas && window.SignaturePad) {
      pad = new window.SignaturePad(canvas, {
        penColor: "#0f172a", minWidth: 0.8, maxWidth: 2.6, backgroundColor: "rgba(0,0,0,0)"
      });
      pad.addEventListener("beginStroke", function () { showError(""); });
      if (form.getAttribute("data-bound") !== "1") setMethod("drawn");
      var timer = null;
      window.addEventListener("resize", function () {
        clearTimeout(timer);
        timer = setTimeout(function () { resize(false); }, 150);
      });
    } else {
      setMethod("typed");
      for (var r = 0; r < radios.length; r++) if (radios[r].value === "drawn") radios[r].disabled = true;
    }

    // A form sent back with an error keeps the strokes it was sent with: redraw them.
    function restore() {
      if (!pad || !strokes || !strokes.value) return;
      try {
        var saved = JSON.parse(strokes.value);
        var groups = (saved.strokes || []).map(function (flat) {
          var points = [];
          for (var k = 0; k + 1 < flat.length; k += 2) {
            points.push({ x: flat[k], y: flat[k + 1], time: 0, pressure: 0.5 });
          }
          return {
            points: points, penColor: "#0f172a", dotSize: 0, minWidth: 0.8, maxWidth: 2.6,
            velocityFilterWeight: 0.7, compositeOperation: "source-over"
          };
        });
        if (groups.length) pad.fromData(groups);
      } catch (err) { /* unreadable: start with an empty pad */ }
    }

    for (var i = 0; i < radios.length; i++) radios[i].addEventListener("change", sync);
    if (clearBtn) clearBtn.addEventListener("click", function () { if (pad) pad.clear(); });
    if (nameInput && preview) {
      nameInput.addEventListener("input", function () { preview.textContent = nameInput.value; });
    }

    form.addEventListener("submit", function (e) {
      // "Send me a code" posts the form elsewhere (when htmx did not take it): no signature yet.
      if (e.submitter && e.submitter.hasAttribute("data-code-request")) return;
      if (form.getAttribute("aria-busy") === "true") { e.preventDefault(); return; }
      if (method() === "drawn") {
        if (!pad || pad.isEmpty()) {
          e.preventDefault();
          showError(errorBox ? errorBox.getAttribute("data-empty-text") : "");
          if (padBox) padBox.scrollIntoView({ block: "center" });
          return;
        }
        var box = canvas.getBoundingClientRect();
        var data = pad.toData().map(function (group) {
          var flat = [];
          for (var j = 0; j < group.points.length; j++) {
            flat.push(round(group.points[j].x), round(group.points[j].y));
          }
          return flat;
        });
        strokes.value = JSON.stringify({ w: round(box.width), h: round(box.height), strokes: data });
      } else {
        strokes.value = "";
      }
      form.setAttribute("aria-busy", "true");
      if (submit) submit.setAttribute("aria-disabled", "true");
      if (submit) submit.classList.add("htmx-request");
    });

    // Back/forward cache: a restored page must be usable again.
    window.addEventListener("pageshow", function () {
      form.removeAttribute("aria-busy");
      if (submit) { submit.removeAttribute("aria-disabled"); submit.classList.remove("htmx-request"); }
    });

    sync();
    restore();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
