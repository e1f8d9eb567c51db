/* Caspen's only script, loaded once by base.html (no build step, no inline code: the
   Content-Security-Policy is strict). htmx settings, the popup, and small progressive
   enhancements; every page works without it. */
(function () {
  "use strict";

  // Buttons only needed without JavaScript (.js-hide) disappear.
  document.documentElement.classList.add("js");

  // ------------------------------------------------------------------ htmx settings

  // Forms re-rendered with errors come back as 400 (invalid) or 409 (refused by a rule):
  // swap them like a success so the message shows beside the field.
  htmx.config.responseHandling = [
    { code: "204", swap: false },
    { code: "[23]..", swap: true },
    { code: "(400|403|409|422)", swap: true, error: false },
    { code: "[45]..", swap: false, error: true },
  ];

  // Settle at once, in the same task as the swap. htmx wires the new content's hx-*
  // attributes when it settles; with its default 20 ms delay, a click in that window
  // (a second submit of a refused form, say) would post the form without htmx. No
  // stylesheet here animates htmx's settling classes, so nothing needs the delay.
  htmx.config.defaultSettleDelay = 0;

  // ------------------------------------------------------------------ the popup
  // The server says what to do (kernel/web.py): render_popup sends "popup:open" after
  // htmx has settled the popup's content, close_popup sends "popup:close". This script
  // only listens.

  const modal = () => document.getElementById("modal");

  // A request sent from inside the open popup (a form re-rendered with its error, say)
  // whose answer arrives after the user closed the popup (Escape, ×) is dropped: nothing
  // is swapped into the closed popup and it is not opened again.
  document.body.addEventListener("htmx:beforeRequest", function (event) {
    const dialog = modal();
    const xhr = event.detail.xhr;
    if (xhr && dialog) xhr.caspenFromPopup = dialog.open && dialog.contains(event.detail.elt);
  });
  document.body.addEventListener("htmx:beforeSwap", function (event) {
    const dialog = modal();
    const xhr = event.detail.xhr;
    if (dialog && xhr && xhr.caspenFromPopup && !dialog.open && dialog.contains(event.detail.target)) {
      event.detail.shouldSwap = false;
    }
  });

  document.addEventListener("popup:open", function () {
    const dialog = modal();
    if (!dialog) return;
    // Focus already in the open popup's new content means someone is typing there
    // (the answer swapped in, then they clicked a field before it settled): keep it.
    const active = document.activeElement;
    const typing = dialog.open && active && active !== document.body && dialog.contains(active);
    if (!dialog.open) {
      if (!document.getElementById("modal-body").firstElementChild) return;
      dialog.showModal();
    }
    if (typing) return;
    // Otherwise the first field, or the first one in error after a refusal.
    const first = dialog.querySelector("[aria-invalid=true]")
      || dialog.querySelector("[autofocus], input:not([type=hidden]), select, textarea, button:not([data-close-modal])");
    if (first) first.focus();
  });

  document.addEventListener("popup:close", function () {
    const dialog = modal();
    if (dialog && dialog.open) dialog.close();
  });

  document.addEventListener("click", function (event) {
    const closer = event.target.closest("[data-close-modal]");
    if (closer) {
      event.preventDefault();
      modal().close();
      return;
    }
    // A click on the backdrop (outside the dialog's box) closes it.
    const dialog = modal();
    if (dialog && event.target === dialog) dialog.close();
  });

  // Clear the dialog after it closes so stale forms never flash on the next open.
  document.addEventListener("close", function (event) {
    if (event.target.id === "modal") document.getElementById("modal-body").innerHTML = "";
  }, true);

  // ------------------------------------------------------------------ errors

  // A network failure or a server error must never fail silently. A 503 page says
  // whether anything was saved (templates/503.html, data-error-message): "Nothing was
  // saved" only when the server knows; otherwise the outcome is unknown and how to check.
  document.body.addEventListener("htmx:responseError", function (event) {
    const xhr = event.detail.xhr;
    const status = xhr.status;
    const page = new DOMParser().parseFromString(xhr.responseText || "", "text/html");
    const said = page.querySelector("[data-error-message]");
    if (said && said.textContent.trim()) {
      showError(said.textContent.trim());
    } else if (status === 500) {
      showError("Something went wrong (500). Nothing was saved; please try again.");
    } else {
      showError("Something went wrong (" + status + "), so whether your change was saved " +
        "is unknown. Open the page again to check before trying again.");
    }
  });
  document.body.addEventListener("htmx:sendError", function () {
    showError("The server could not be reached. Check the connection and try again.");
  });

  function showError(text) {
    // With the popup open the page behind it is inert (unseen, unread by screen
    // readers): say it at the top of the popup, where the form can be sent again.
    const modal = document.getElementById("modal");
    const body = document.getElementById("modal-body");
    if (modal && modal.open && body) {
      const previous = body.querySelector("[data-client-error]");
      if (previous) previous.remove();
      const note = document.createElement("p");
      note.className = "form-errors";
      note.setAttribute("role", "alert");
      note.setAttribute("data-client-error", "");
      note.textContent = text;
      const header = body.querySelector(".modal__header, header");
      if (header) header.after(note);
      else body.prepend(note);
      return;
    }
    const region = document.getElementById("messages");
    if (!region) return;
    const list = document.createElement("ul");
    list.className = "messages";
    const item = document.createElement("li");
    item.className = "message message--error";
    item.textContent = text;
    list.appendChild(item);
    region.replaceChildren(list);
  }

  // ------------------------------------------------------------------ menus
  // The Actions menus (<details class="menu">, client list) close like menus do: on a
  // click elsewhere, on Escape (focus returns to the summary), and when another opens.
  // Without this script they still work, they just stay open until toggled.

  function openMenus() {
    return Array.from(document.querySelectorAll("details.menu[open]"));
  }

  document.addEventListener("click", function (event) {
    const inside = event.target.closest("details.menu");
    openMenus().forEach(function (menu) {
      if (menu !== inside) menu.removeAttribute("open");
    });
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    openMenus().forEach(function (menu) {
      menu.removeAttribute("open");
      const summary = menu.querySelector("summary");
      if (summary && menu.contains(document.activeElement)) summary.focus();
    });
  });

  // A link inside a menu that opens a popup: close the menu behind the popup.
  document.body.addEventListener("htmx:beforeRequest", function (event) {
    const menu = event.target.closest && event.target.closest("details.menu");
    if (menu) menu.removeAttribute("open");
  });

  // ------------------------------------------------------------------ calendar
  // Everything works without these (filters have a Show button, search a Search button).

  // The calendar's filters apply as soon as one changes.
  document.addEventListener("change", function (event) {
    const form = event.target.closest && event.target.closest("form[data-autosubmit]");
    if (form) form.requestSubmit();
  });

  // Enter in the client search searches (instead of submitting the booking form).
  document.addEventListener("keydown", function (event) {
    const input = event.target;
    if (event.key === "Enter" && input.matches && input.matches("[data-client-search]")) {
      event.preventDefault();
      htmx.trigger(input, "search");
    }
  });

  // ------------------------------------------------------------------ package form
  // The catalog's package form: show each chosen service's quantity when "Define
  // quantities" is ticked (with their running total), and the period when "This package
  // expires" is ticked. Without this script every input stays visible and the server
  // ignores the ones that don't apply.

  function syncPackageForm(form) {
    const fixed = form.querySelector("input[name=define_quantities]");
    const expires = form.querySelector("input[name=expires]");
    const credits = parseInt((form.querySelector("input[name=credits]") || {}).value, 10);
    let total = 0;
    form.querySelectorAll("[data-package-service]").forEach(function (row) {
      const pick = row.querySelector("input[name=services]");
      const box = row.querySelector("[data-quantity]");
      const show = Boolean(fixed && fixed.checked && pick && pick.checked);
      box.hidden = !show;
      if (show) {
        const value = parseInt(box.querySelector("input").value, 10);
        if (value > 0) total += value;
      }
    });
    const summary = form.querySelector("[data-quantity-total]");
    if (summary) {
      summary.hidden = !(fixed && fixed.checked);
      const creditsText = isNaN(credits) ? "the package's credits" : credits + (credits === 1 ? " credit" : " credits");
      summary.textContent = "The quantities add up to " + total + " of " + creditsText + ".";
      summary.classList.toggle("is-off", isNaN(credits) || total !== credits);
    }
    const period = form.querySelector("[data-expiry-fields]");
    if (period && expires) period.hidden = !expires.checked;
  }

  function syncPackageForms() {
    document.querySelectorAll("[data-package-form]").forEach(syncPackageForm);
  }

  function onPackageInput(event) {
    const form = event.target.closest && event.target.closest("[data-package-form]");
    if (form) syncPackageForm(form);
  }

  document.addEventListener("change", onPackageInput);
  document.addEventListener("input", onPackageInput);
  // The form is swapped by htmx after a refused save: set it up again.
  document.addEventListener("htmx:afterSwap", syncPackageForms);
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", syncPackageForms);
  } else {
    syncPackageForms();
  }

  // ------------------------------------------------------------------ top bar menu (issue 11)
  // Narrow screens fold the navigation into a Menu button (app.css, "Responsive layout").
  // It opens and closes like the Actions menus: on its button, on a click elsewhere, and
  // on Escape (focus returns to the button). Without this script the items wrap instead.

  function setNavOpen(toggle, open) {
    const bar = toggle.closest(".topbar");
    if (!bar) return;
    bar.classList.toggle("is-open", open);
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
  }

  document.addEventListener("click", function (event) {
    const toggle = document.querySelector("[data-nav-toggle]");
    if (!toggle) return;
    if (event.target.closest("[data-nav-toggle]")) {
      setNavOpen(toggle, toggle.getAttribute("aria-expanded") !== "true");
    } else if (!event.target.closest("#topbar-menu")) {
      setNavOpen(toggle, false);
    }
  });

  document.addEventListener("keydown", function (event) {
    const toggle = document.querySelector("[data-nav-toggle]");
    if (event.key !== "Escape" || !toggle || toggle.getAttribute("aria-expanded") !== "true") return;
    const menu = document.getElementById("topbar-menu");
    setNavOpen(toggle, false);
    if (menu && menu.contains(document.activeElement)) toggle.focus();
  });

  // ------------------------------------------------------------------ print
  // The Print button of the invoice's print view.
  document.addEventListener("click", function (event) {
    const button = event.target.closest("[data-print]");
    if (!button) return;
    event.preventDefault();
    window.print();
  });
})();
