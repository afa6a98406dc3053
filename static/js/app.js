/*!
 * CrewCommand — app.js (no dependencies, CSP-safe: no eval, no inline handlers, no innerHTML).
 *
 * Load it deferred in <head> (nothing blocks parsing): the stylesheet hides the closed
 * mobile menu with `@media (scripting: enabled)`, so nothing waits for the `js` class:
 *   <script src="{% static 'js/app.js' %}" defer></script>
 *
 * Features
 *  1. Menu:   button.menu-toggle[aria-controls="app-nav"][aria-expanded="false"] toggles
 *             #app-nav (class .is-open). Escape closes it and returns focus to the button.
 *  2. Toasts: .toast-close removes a toast; .toast-success / .toast-info auto-dismiss after 6 s
 *             (paused while hovered or focused; never errors/warnings; opt out with data-persist).
 *             Server → client: `HX-Trigger: {"showToast": {"level": "success", "message": "Saved"}}`
 *             (also works with HX-Trigger-After-Swap/-Settle, or `{"showToast": "Saved"}` = info).
 *             From other scripts: CrewCommand.toast("Saved", "success").
 *             A repeat of a message already showing is merged into it: a count (×2), timer restarted.
 *  3. htmx:responseError / htmx:sendError → error toast with body[data-error-text]
 *             (default "Something went wrong. Please try again."), unless the response
 *             already sent its own showToast.
 *  4. button[data-copy="text"] copies the value, then toasts body/button[data-copied-text] ("Copied").
 *  5. form[data-confirm="Delete this job?"] / button[data-confirm] → window.confirm() before submit.
 *  6. Line options: in form[data-line-form], [data-line-kinds="optional choice"] shows only while
 *             the Type select (name=kind) is one of those; [data-line-new-package] only while the
 *             Package select (name=group) is "__new__" (its input is disabled otherwise, so a
 *             name typed and then abandoned is not sent). Without JS all show; the server decides.
 *  7. Busy buttons: a plain POST form, once submitted, disables its submit button and shows its
 *             spinner (span.spinner.htmx-indicator, added if missing), and refuses a second
 *             submit, so a double click sends once. htmx forms use hx-disabled-elt instead.
 *  8. Dialogs: a dialog[data-modal] swapped in by htmx opens as a modal; [data-dialog-close]
 *             (a link back, without JavaScript) and Escape close it; a closed one is removed.
 *  9. Wide tables: a .table-wrap that scrolls sideways (its table is wider than it) takes
 *             tabindex="0", so keyboard users can scroll it too (WCAG 2.1.1); checked on load,
 *             on resize and after htmx swaps.
 *  Optional text hooks on <body>: data-error-text, data-copied-text, data-dismiss-text.
 */
(function () {
  "use strict";

  var doc = document;
  var root = doc.documentElement;
  root.classList.add("js");

  var AUTO_DISMISS_MS = 6000;
  var LEVELS = { success: 1, error: 1, info: 1, warning: 1 };

  function bodyData(name, fallback) {
    var v = doc.body && doc.body.getAttribute("data-" + name);
    return v ? v : fallback;
  }

  function closest(target, selector) {
    if (!target) return null;
    if (target.nodeType !== 1) target = target.parentElement;
    return target && target.closest ? target.closest(selector) : null;
  }

  /* ---------------------------------------------------------------- 1. Menu */
  function navFor(btn) {
    return doc.getElementById(btn.getAttribute("aria-controls") || "app-nav");
  }

  function setMenu(btn, open) {
    var nav = navFor(btn);
    btn.setAttribute("aria-expanded", open ? "true" : "false");
    if (nav) nav.classList.toggle("is-open", open);
  }

  function openMenuToggle() {
    return doc.querySelector('.menu-toggle[aria-expanded="true"]');
  }

  /* -------------------------------------------------------------- 2. Toasts */
  function toastContainer() {
    var box = doc.querySelector(".toasts");
    if (!box) {
      box = doc.createElement("div");
      box.className = "toasts";
      box.setAttribute("aria-live", "polite");
      doc.body.appendChild(box);
    }
    return box;
  }

  function dismissToast(toast) {
    if (!toast || toast.classList.contains("is-leaving")) return;
    clearTimeout(toast._ccTimer);
    toast.classList.add("is-leaving");
    var reduce = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    setTimeout(function () {
      if (toast.parentNode) toast.parentNode.removeChild(toast);
    }, reduce ? 0 : 200);
  }

  function toastText(toast) {
    var first = toast.firstElementChild;
    return first ? first.textContent.trim() : "";
  }

  // A toast that repeats one already showing (six "Line added.") is not stacked: the one on
  // screen shows a count ("×6") and its timer starts again. Returns the toast that stays.
  function mergeRepeat(toast) {
    var box = toast.parentNode;
    if (!box) return toast;
    var others = box.querySelectorAll(".toast");
    for (var i = 0; i < others.length; i++) {
      var other = others[i];
      if (other === toast || !other._ccScheduled || other.classList.contains("is-leaving")) continue;
      if (other.className !== toast.className || toastText(other) !== toastText(toast)) continue;
      toast.parentNode.removeChild(toast);
      var count = (other._ccCount || 1) + 1;
      other._ccCount = count;
      var badge = other.querySelector(".toast-count");
      if (!badge) {
        badge = doc.createElement("span");
        badge.className = "toast-count";
        other.insertBefore(badge, other.querySelector(".toast-close"));
      }
      badge.textContent = "\u00d7" + count;
      if (other._ccRestart) other._ccRestart();
      return other;
    }
    return toast;
  }

  function scheduleDismiss(toast) {
    if (toast._ccScheduled) return;
    if (mergeRepeat(toast) !== toast) return;
    toast._ccScheduled = true;
    if (toast.hasAttribute("data-persist")) return;
    if (!toast.classList.contains("toast-success") && !toast.classList.contains("toast-info")) return;

    var remaining = AUTO_DISMISS_MS;
    var started = 0;
    var held = false;  // under the pointer or holding focus: no timer runs
    function start() {
      held = false;
      started = Date.now();
      clearTimeout(toast._ccTimer);
      toast._ccTimer = setTimeout(function () { dismissToast(toast); }, remaining);
    }
    function pause() {
      if (held) return;
      held = true;
      clearTimeout(toast._ccTimer);
      remaining = Math.max(1500, remaining - (Date.now() - started));
    }
    // A repeat gives the toast its full time again, counted from when it is let go if held.
    toast._ccRestart = function () {
      remaining = AUTO_DISMISS_MS;
      if (!held) start();
    };
    toast.addEventListener("mouseenter", pause);
    toast.addEventListener("focusin", pause);
    toast.addEventListener("mouseleave", start);
    toast.addEventListener("focusout", function (e) {
      if (!toast.contains(e.relatedTarget)) start();
    });
    start();
  }

  function initToasts(scope) {
    var el = scope && scope.querySelectorAll ? scope : doc;
    if (el.classList && el.classList.contains("toast")) scheduleDismiss(el);
    var list = el.querySelectorAll(".toast");
    for (var i = 0; i < list.length; i++) scheduleDismiss(list[i]);
  }

  function showToast(message, level) {
    if (message === undefined || message === null || message === "") return null;
    level = LEVELS[level] ? level : "info";

    var toast = doc.createElement("div");
    toast.className = "toast toast-" + level;
    if (level === "error") toast.setAttribute("role", "alert");

    var text = doc.createElement("p");
    text.className = "toast-message";
    text.textContent = String(message);

    var close = doc.createElement("button");
    close.type = "button";
    close.className = "toast-close";
    close.setAttribute("aria-label", bodyData("dismiss-text", "Dismiss"));
    var x = doc.createElement("span");
    x.setAttribute("aria-hidden", "true");
    x.textContent = "\u00d7";
    close.appendChild(x);

    toast.appendChild(text);
    toast.appendChild(close);
    toastContainer().appendChild(toast);
    var kept = mergeRepeat(toast);
    scheduleDismiss(kept);
    return kept;
  }

  // HX-Trigger: {"showToast": {...}} → htmx dispatches a bubbling "showToast" event.
  doc.addEventListener("showToast", function (e) {
    var d = e.detail || {};
    if (d.value !== undefined && typeof d.value === "object" && d.value !== null) d = d.value;
    var message = d.message !== undefined ? d.message : d.value;
    showToast(message, d.level || d.tags);
  });

  /* ----------------------------------------------------- 3. htmx errors */
  function responseSentToast(xhr) {
    if (!xhr || !xhr.getResponseHeader) return false;
    var names = ["HX-Trigger", "HX-Trigger-After-Swap", "HX-Trigger-After-Settle"];
    for (var i = 0; i < names.length; i++) {
      var h = xhr.getResponseHeader(names[i]);
      if (h && h.indexOf("showToast") !== -1) return true;
    }
    return false;
  }

  function errorToast(e) {
    if (e.detail && responseSentToast(e.detail.xhr)) return;
    showToast(bodyData("error-text", "Something went wrong. Please try again."), "error");
  }
  doc.addEventListener("htmx:responseError", errorToast);
  doc.addEventListener("htmx:sendError", errorToast);

  // Toasts swapped in by htmx (e.g. hx-swap-oob into .toasts) get the same behaviour.
  doc.addEventListener("htmx:load", function (e) { initToasts(e.target); });

  /* ------------------------------------------------------------ 4. Copy */
  function fallbackCopy(text) {
    var ta = doc.createElement("textarea");
    ta.value = text;
    ta.setAttribute("readonly", "");
    ta.className = "visually-hidden";
    doc.body.appendChild(ta);
    ta.select();
    var ok = false;
    try { ok = doc.execCommand("copy"); } catch (err) { ok = false; }
    doc.body.removeChild(ta);
    return ok;
  }

  function copy(btn) {
    var text = btn.getAttribute("data-copy");
    var done = btn.getAttribute("data-copied-text") || bodyData("copied-text", "Copied");
    var settled = false;
    function ok() {
      if (settled) return;
      settled = true;
      showToast(done, "success");
    }
    function fail() {
      if (settled) return;
      if (fallbackCopy(text)) return ok();
      settled = true;
      showToast(bodyData("error-text", "Something went wrong. Please try again."), "error");
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(ok, fail);
      setTimeout(fail, 1500); // some webviews never settle the promise
    } else {
      fail();
    }
  }

  /* ---------------------------------------------------- 6. Line options */
  var NEW_PACKAGE = "__new__";

  function syncLineForm(form) {
    var kind = form.querySelector("select[name=kind]");
    if (!kind) return;
    var pkg = form.querySelector("select[name=group]");
    var wrappers = form.querySelectorAll("[data-line-kinds]");
    for (var i = 0; i < wrappers.length; i++) {
      var box = wrappers[i];
      var show = (" " + box.getAttribute("data-line-kinds") + " ").indexOf(" " + kind.value + " ") !== -1;
      if (show && box.hasAttribute("data-line-new-package")) show = !!pkg && pkg.value === NEW_PACKAGE;
      box.hidden = !show;
      var inputs = box.querySelectorAll("input, select, textarea");
      // Only the new package's name is disabled when hidden: a disabled checkbox or select would
      // drop out of the POST and change what the server keeps.
      if (box.hasAttribute("data-line-new-package")) {
        for (var j = 0; j < inputs.length; j++) inputs[j].disabled = !show;
      }
    }
  }

  function initLineForms(scope) {
    var el = scope && scope.querySelectorAll ? scope : doc;
    if (el.matches && el.matches("form[data-line-form]")) syncLineForm(el);
    var forms = el.querySelectorAll("form[data-line-form]");
    for (var i = 0; i < forms.length; i++) syncLineForm(forms[i]);
  }

  doc.addEventListener("change", function (e) {
    var form = closest(e.target, "form[data-line-form]");
    if (!form || !e.target.name || (e.target.name !== "kind" && e.target.name !== "group")) return;
    syncLineForm(form);  // focus stays put: the name field comes next in the tab order
  });
  doc.addEventListener("htmx:load", function (e) { initLineForms(e.target); });

  /* -------------------------------------------------- Delegated listeners */
  // Capture phase so a cancelled confirm also stops htmx's own listeners.
  doc.addEventListener("click", function (e) {
    var btn = closest(e.target, "button[data-confirm], input[type=submit][data-confirm], a[data-confirm]");
    if (btn && !btn.disabled) {
      if (!window.confirm(btn.getAttribute("data-confirm"))) {
        e.preventDefault();
        e.stopImmediatePropagation();
        return;
      }
      if (btn.form) btn.form._ccConfirmedBy = btn;
    }
  }, true);

  doc.addEventListener("submit", function (e) {
    var form = e.target;
    if (!form || !form.hasAttribute || !form.hasAttribute("data-confirm")) return;
    var submitter = e.submitter || null;
    var already = form._ccConfirmedBy && (!submitter || submitter === form._ccConfirmedBy);
    form._ccConfirmedBy = null;
    if (already) return;
    if (!window.confirm(form.getAttribute("data-confirm"))) {
      e.preventDefault();
      e.stopImmediatePropagation();
    }
  }, true);

  doc.addEventListener("click", function (e) {
    var toggle = closest(e.target, ".menu-toggle");
    if (toggle) {
      setMenu(toggle, toggle.getAttribute("aria-expanded") !== "true");
      return;
    }

    var close = closest(e.target, ".toast-close");
    if (close) {
      dismissToast(closest(close, ".toast"));
      return;
    }

    var copyBtn = closest(e.target, "button[data-copy]");
    if (copyBtn) {
      e.preventDefault();
      copy(copyBtn);
      return;
    }

    // Click outside an open menu closes it.
    var open = openMenuToggle();
    if (open) {
      var nav = navFor(open);
      if (nav && !nav.contains(e.target)) setMenu(open, false);
    }
  });

  doc.addEventListener("keydown", function (e) {
    if (e.key !== "Escape") return;
    var open = openMenuToggle();
    if (open) {
      setMenu(open, false);
      open.focus();
    }
  });

  /* ------------------------------------------------------ 6. Busy buttons */
  function setBusy(btn) {
    if (!btn.querySelector(".spinner")) {
      var spin = doc.createElement("span");
      spin.className = "spinner htmx-indicator";
      spin.setAttribute("aria-hidden", "true");
      btn.appendChild(document.createTextNode(" "));
      btn.appendChild(spin);
    }
    btn.classList.add("is-busy");
    btn.setAttribute("aria-disabled", "true");
    // Disabled after the submit has read the button's name and value, not before.
    setTimeout(function () { btn.disabled = true; }, 0);
  }

  doc.addEventListener("submit", function (e) {
    var form = e.target;
    if (e.defaultPrevented || !form || form.nodeName !== "FORM") return; // htmx, or cancelled
    if ((form.getAttribute("method") || "get").toLowerCase() !== "post") return;
    if (form._ccBusy) {
      e.preventDefault();
      return;
    }
    form._ccBusy = true;
    var btn = e.submitter || form.querySelector("button[type=submit], button:not([type])");
    if (btn && btn.nodeName === "BUTTON") setBusy(btn);
  });

  // Back to a page from the browser's cache: its buttons work again.
  window.addEventListener("pageshow", function (e) {
    if (!e.persisted) return;
    var busy = doc.querySelectorAll(".btn.is-busy");
    for (var i = 0; i < busy.length; i++) {
      busy[i].classList.remove("is-busy");
      busy[i].removeAttribute("aria-disabled");
      busy[i].disabled = false;
      if (busy[i].form) busy[i].form._ccBusy = false;
    }
  });

  /* ----------------------------------------------------------- 7. Dialogs */
  doc.addEventListener("htmx:load", function (e) {
    var el = e.target;
    if (!el || !el.querySelector) return;
    var dialog = el.matches && el.matches("dialog[data-modal]") ? el : el.querySelector("dialog[data-modal]");
    if (dialog && !dialog.open && dialog.showModal) {
      dialog.addEventListener("close", function () {
        if (dialog.parentNode) dialog.parentNode.removeChild(dialog);
      });
      dialog.showModal();
    }
    var invalid = el.querySelector('[aria-invalid="true"]');
    if (invalid && invalid.focus) invalid.focus();
  });

  doc.addEventListener("click", function (e) {
    var close = closest(e.target, "[data-dialog-close]");
    var dialog = close && closest(close, "dialog[open]");
    if (!dialog) return;
    e.preventDefault();
    dialog.close();
  });

  function markScrollableTables() {
    var wraps = doc.querySelectorAll(".table-wrap");
    for (var i = 0; i < wraps.length; i++) {
      var wrap = wraps[i];
      if (wrap.scrollWidth > wrap.clientWidth + 1) {
        if (!wrap.hasAttribute("tabindex")) { wrap.setAttribute("tabindex", "0"); wrap.setAttribute("data-scroll-focus", ""); }
      } else if (wrap.hasAttribute("data-scroll-focus")) {
        wrap.removeAttribute("tabindex"); wrap.removeAttribute("data-scroll-focus");
      }
    }
  }
  var resizeTimer = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(markScrollableTables, 150);
  });
  doc.addEventListener("htmx:afterSettle", markScrollableTables);

  if (doc.readyState === "loading") {
    doc.addEventListener("DOMContentLoaded", function () { initToasts(doc); initLineForms(doc); markScrollableTables(); });
  } else {
    initToasts(doc);
    initLineForms(doc);
    markScrollableTables();
  }

  window.CrewCommand = { toast: showToast, dismissToast: dismissToast };
})();
