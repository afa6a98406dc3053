/*!
 * CrewCommand — portal-options.js: the customer's option picks survive a reload (CSP-safe).
 *
 * The estimate page reads the picks from its query string (?picks=1&choice-1=…&optional=…);
 * htmx recalculates the totals on every change, and this keeps the address bar in step with
 * history.replaceState (no new history entry, no request, nothing stored), so a reload, or the
 * browser restoring the tab, shows the same picks and totals. Without JavaScript, "Update the
 * total" does the same through the server (portal:estimate_choose).
 */
(function () {
  "use strict";

  function query(box) {
    var params = new URLSearchParams();
    var inputs = box.querySelectorAll("input");
    for (var i = 0; i < inputs.length; i++) {
      var input = inputs[i];
      if (!input.name || input.disabled) continue;
      if ((input.type === "radio" || input.type === "checkbox") && !input.checked) continue;
      params.append(input.name, input.value);
    }
    return params.toString();
  }

  function remember(box) {
    var url = box.getAttribute("data-page-url") + "?" + query(box);
    if (url !== location.pathname + location.search) {
      history.replaceState(history.state, "", url);
    }
  }

  function init() {
    var box = document.getElementById("options");
    if (!box || !box.hasAttribute("data-page-url")) return;
    box.addEventListener("change", function () { remember(box); });
    // A browser that restored the inputs itself (back/forward, some reloads) may show picks
    // other than the ones the page was drawn with: bring the totals and the address in line.
    var drawn = new URLSearchParams();
    new URLSearchParams(location.search).forEach(function (value, name) {
      if (name === "picks" || name === "optional" || name.indexOf("choice-") === 0) {
        drawn.append(name, value);
      }
    });
    if (drawn.has("picks") && drawn.toString() !== query(box)) {
      box.dispatchEvent(new Event("change", { bubbles: true }));
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
