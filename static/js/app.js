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
      // Its confirmation ("Appointment created.") still reaches the page (issue 11).
      if (window.caspenKeepMessages) window.caspenKeepMessages(xhr.responseText);
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

  // Closing goes through closePopup (issue 11 section below): a changed form asks first.
  document.addEventListener("click", function (event) {
    const closer = event.target.closest("[data-close-modal]");
    if (closer) {
      event.preventDefault();
      closePopup();
      return;
    }
    // A click on the backdrop (outside the dialog's box) closes it.
    const dialog = modal();
    if (dialog && event.target === dialog) closePopup();
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

  // ================================================================== issue 11: front desk
  // (i11-desk) No lost or silently changed work, and focus that never drops to the page.

  // ---- "Discard changes?" -------------------------------------------------------------
  // A popup whose form someone changed (typed, ticked, chose) asks before it closes or
  // is replaced by another of its pages (Edit details' Cancel): a real dialog in the
  // page, keyboard-usable (focus on "Keep editing"; Escape keeps editing too). The flag
  // is cleared when the popup shows a new page that is not the same form refused (a
  // 400/409 answer keeps what was typed, so it stays changed), and when it closes.

  let popupChanged = false;

  function markChanged(event) {
    const dialog = modal();
    if (!event.isTrusted || !dialog || !dialog.open) return;
    if (event.target.closest && event.target.closest("#modal-body form")) popupChanged = true;
  }
  document.addEventListener("input", markChanged);
  document.addEventListener("change", markChanged);

  document.body.addEventListener("htmx:afterSwap", function (event) {
    const status = event.detail.xhr ? event.detail.xhr.status : 200;
    if (event.detail.target && event.detail.target.id === "modal-body" && status < 400) {
      popupChanged = false;
    }
  });
  document.addEventListener("close", function (event) {
    if (event.target.id === "modal") popupChanged = false;
  }, true);

  function discardDialog() {
    let dialog = document.getElementById("discard-dialog");
    if (dialog) return dialog;
    dialog = document.createElement("dialog");
    dialog.id = "discard-dialog";
    dialog.className = "modal modal--confirm";
    dialog.setAttribute("role", "alertdialog");
    dialog.setAttribute("aria-labelledby", "discard-title");
    dialog.setAttribute("aria-describedby", "discard-text");
    const box = document.createElement("div");
    const title = document.createElement("h2");
    title.id = "discard-title";
    title.className = "modal__title";
    title.textContent = "Discard changes?";
    const text = document.createElement("p");
    text.id = "discard-text";
    text.textContent = "What you entered in this form has not been saved and will be lost.";
    const footer = document.createElement("div");
    footer.className = "modal__footer";
    const keep = document.createElement("button");
    keep.type = "button";
    keep.className = "button";
    keep.value = "keep";
    keep.textContent = "Keep editing";
    const discard = document.createElement("button");
    discard.type = "button";
    discard.className = "button button--danger";
    discard.value = "discard";
    discard.textContent = "Discard changes";
    [keep, discard].forEach(function (button) {
      button.addEventListener("click", function () { dialog.close(button.value); });
    });
    footer.append(keep, discard);
    box.append(title, text, footer);
    dialog.append(box);
    // One listener for good. A close event is dispatched after the dialog closed, so one
    // from the last question can arrive after a quick click asked again: it is ignored
    // while the dialog is open, and the new question's answer is the one acted on.
    dialog.addEventListener("close", function () {
      if (dialog.open) return;
      const then = dialog.caspenThen;
      dialog.caspenThen = null;
      if (then && dialog.returnValue === "discard") {
        popupChanged = false;
        then();
      }
    });
    document.body.append(dialog);
    return dialog;
  }

  // Run `then` now if nothing changed, else once staff choose "Discard changes".
  function unlessKeepEditing(then) {
    if (!popupChanged) { then(); return; }
    const ask = discardDialog();
    if (ask.open) return;
    ask.returnValue = "";
    ask.caspenThen = then;
    ask.showModal();
    ask.querySelector("button[value=keep]").focus();
  }

  function closePopup() {
    const dialog = modal();
    if (dialog && dialog.open) unlessKeepEditing(function () { dialog.close(); });
  }

  // Escape on the popup: the same question (the browser would close it at once).
  document.addEventListener("cancel", function (event) {
    if (event.target.id === "modal" && popupChanged) {
      event.preventDefault();
      closePopup();
    }
  }, true);

  // A link in the popup that replaces it with another page (Edit details' Cancel).
  document.body.addEventListener("htmx:confirm", function (event) {
    const elt = event.detail.elt;
    const dialog = modal();
    if (!popupChanged || !dialog || !dialog.open || !dialog.contains(elt)) return;
    if (event.detail.verb !== "get" || elt.tagName !== "A") return;
    if (!event.detail.target || event.detail.target.id !== "modal-body") return;
    event.preventDefault();
    unlessKeepEditing(function () { event.detail.issueRequest(true); });
  });

  // ---- Confirmations that survive the popup -------------------------------------------
  // The server sends "Appointment created." as an out-of-band swap of the page's
  // #messages. An answer dropped because the popup was closed before it arrived (see
  // htmx:beforeSwap above) still delivers it.
  window.caspenKeepMessages = function (html) {
    const region = document.getElementById("messages");
    if (!region || !html) return;
    const answer = new DOMParser().parseFromString(html, "text/html");
    const sent = answer.querySelector("#messages");
    if (sent && sent.querySelector(".message")) region.replaceChildren(...sent.childNodes);
  };

  // ---- Focus after a swap -------------------------------------------------------------
  // When a swap removes the focused control (the client just picked, View, the service
  // chosen in Link package), focus goes to the next useful control, never the page:
  // the swapped content's [data-autofocus], else the control after it when it asks
  // for that ([data-focus-after]) or has none, else its first control. The popup's own
  // content is focused by "popup:open".

  const FOCUSABLE = "a[href], button:not([disabled]), input:not([type=hidden]):not([disabled]), " +
    "select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex='-1'])";

  function visible(element) {
    return element.getClientRects().length > 0 && !element.closest("[hidden], .js-hide");
  }

  function focusables(root) {
    return Array.from(root.querySelectorAll(FOCUSABLE)).filter(visible);
  }

  function controlAfter(element) {
    const scope = element.closest("dialog, main") || document.body;
    return focusables(scope).find(function (candidate) {
      return !element.contains(candidate) &&
        (element.compareDocumentPosition(candidate) & Node.DOCUMENT_POSITION_FOLLOWING);
    });
  }

  function lostFocus() {
    const active = document.activeElement;
    return !active || active === document.body || !active.isConnected;
  }

  // The answer's own target (out-of-band parts, such as the client list, are not it),
  // looked up again by id when it was replaced (outerHTML).
  let swapTarget = null;
  document.body.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.shouldSwap !== false) swapTarget = event.detail.target;
  });

  function focusAfterSwap() {
    let target = swapTarget;
    swapTarget = null;
    if (target && !target.isConnected && target.id) target = document.getElementById(target.id);
    if (!target || !target.isConnected || target.id === "modal-body" || !lostFocus()) return;
    const dialog = modal();
    if (dialog && dialog.open && !dialog.contains(target)) return;
    const wanted = target.querySelector("[data-autofocus]");
    let next = wanted && visible(wanted) ? wanted : null;
    if (!next && !target.querySelector("[data-focus-after]")) next = focusables(target)[0];
    if (!next) next = controlAfter(target);
    if (next) next.focus();
  }

  document.body.addEventListener("htmx:afterSettle", function () {
    // After every part of the answer has settled (its out-of-band parts too).
    window.setTimeout(focusAfterSwap, 0);
    // The Service list was reloaded without the service chosen before (the new
    // practitioner does not provide it there): the package part follows, as after a
    // change. The mark is taken off first, so this happens once.
    const field = document.getElementById("service-field");
    const dropped = field && field.querySelector("select[data-service-dropped][hx-get]");
    if (dropped) {
      dropped.removeAttribute("data-service-dropped");
      htmx.trigger(dropped, "change");
    }
  });

  // Closing the popup gives focus back to what opened it; when that was replaced
  // meanwhile (the calendar behind refreshed after a booking), to the same control
  // redrawn, else the page's first control, never the page itself.
  let opener = "";
  document.body.addEventListener("htmx:beforeRequest", function (event) {
    const dialog = modal();
    const target = event.detail.target;
    if (dialog && !dialog.open && target && target.id === "modal-body") {
      opener = event.detail.elt.getAttribute("hx-get") || "";
    }
  });
  document.addEventListener("close", function (event) {
    if (event.target.id !== "modal") return;
    window.setTimeout(function () {
      if (!lostFocus()) return;
      const same = opener && Array.from(document.querySelectorAll("[hx-get]")).find(function (el) {
        return el.getAttribute("hx-get") === opener && visible(el);
      });
      // Else the calendar's own tab stop (its grid is one), else the page's first
      // control; without scrolling, so the staff keep their place in the calendar.
      const main = document.querySelector("main") || document.body;
      const next = same || document.querySelector("[data-cal-grid] [tabindex='0']") ||
        focusables(main)[0];
      if (next) next.focus({ preventScroll: !same });
    }, 0);
  }, true);

  // ================================================================== end of issue 11

  // ================================================================ calendar: scheduling (issue 11)
  // Drag a block to another time, day or practitioner column, or its lower edge to
  // change its end (pointer events: mouse, pen, and touch after a short hold, so a
  // swipe still scrolls on an iPad). The drop posts to the appointment's move URL
  // (Edit details' service); the answer goes in #cal-status (the confirmation with
  // Undo, a refusal, or the working-hours question) and the calendar refreshes itself.
  // Keyboard: one tab stop in the grid (roving tabindex); arrow keys move between
  // times and appointments, Enter books or opens, Alt+arrows move the focused
  // appointment. Without this script every slot and block is still a plain link.

  const HOLD_MS = 350;
  let drag = null;
  let swallowClick = false;
  let focusAfterRefresh = null;

  function calGrid(element) { return element && element.closest("[data-cal-grid]"); }
  function calRows(column) { return column.querySelector(".cal__rows"); }
  function calColumns(grid) { return Array.from(grid.querySelectorAll("[data-cal-col]")); }
  function clamp(value, low, high) { return Math.max(low, Math.min(high, value)); }

  function rowAt(column, y) {
    const box = calRows(column).getBoundingClientRect();
    const rows = parseInt(calGrid(column).dataset.rows, 10);
    return Math.floor((y - box.top) / (box.height / rows)) + 1;
  }

  function columnAt(grid, x) {
    return calColumns(grid).find(function (column) {
      const box = column.getBoundingClientRect();
      return x >= box.left && x < box.right;
    });
  }

  function pad(number) { return (number < 10 ? "0" : "") + number; }

  // "2026-12-07" + minutes after its midnight (may reach the next day) -> "2026-12-07T10:30".
  function wallTime(day, minutes) {
    const parts = day.split("-").map(Number);
    const date = new Date(Date.UTC(parts[0], parts[1] - 1, parts[2]) + Math.floor(minutes / 1440) * 86400000);
    const rest = ((minutes % 1440) + 1440) % 1440;
    return date.getUTCFullYear() + "-" + pad(date.getUTCMonth() + 1) + "-" + pad(date.getUTCDate()) +
      "T" + pad(Math.floor(rest / 60)) + ":" + pad(rest % 60);
  }

  function rowMinutes(grid, row) {
    return parseInt(grid.dataset.first, 10) + (row - 1) * parseInt(grid.dataset.slot, 10);
  }

  function csrfHeaders() {
    try { return JSON.parse(document.body.getAttribute("hx-headers") || "{}"); } catch (e) { return {}; }
  }

  function sendMove(block, values) {
    const region = block.closest(".cal");
    if (region) region.classList.add("is-saving");
    focusAfterRefresh = block.dataset.move;
    htmx.ajax("POST", block.dataset.move, {
      source: document.getElementById("cal-status"),
      target: "#cal-status",
      swap: "innerHTML",
      values: values,
      headers: csrfHeaders(),
    });
  }

  function place(block, row, span) {
    block.style.gridRowStart = String(row);
    block.style.gridRowEnd = "span " + span;
  }

  function showTime(block, grid, row) {
    const label = block.querySelector(".cal__appt-time");
    if (!label) return;
    const minutes = rowMinutes(grid, row);
    label.textContent = pad(Math.floor(minutes / 60) % 24) + ":" + pad(minutes % 60);
  }

  function startDrag(event) {
    const block = event.target.closest && event.target.closest(".cal__appt[data-move]");
    if (!block || (event.pointerType === "mouse" && event.button !== 0)) return;
    const grid = calGrid(block);
    const column = block.closest("[data-cal-col]");
    const row = parseInt(block.dataset.row, 10);
    const span = parseInt(block.dataset.span, 10);
    drag = {
      block: block,
      grid: grid,
      mode: event.target.closest("[data-cal-resize]") ? "resize" : "move",
      pointerId: event.pointerId,
      x: event.clientX,
      y: event.clientY,
      touch: event.pointerType === "touch",
      active: false,
      home: column,
      homeRow: row,
      homeSpan: span,
      column: column,
      row: row,
      span: span,
      grab: clamp(rowAt(column, event.clientY) - row, 0, span - 1),
      label: (block.querySelector(".cal__appt-time") || {}).textContent,
      timer: null,
    };
    if (drag.touch && drag.mode === "move") {
      // A touch drags after a short hold; moving sooner is a scroll.
      drag.timer = window.setTimeout(function () { if (drag) activate(); }, HOLD_MS);
    }
    if (drag.mode === "resize") event.preventDefault();
  }

  function activate() {
    drag.active = true;
    drag.block.classList.add("is-dragging");
    const region = drag.block.closest(".cal");
    if (region) region.classList.add("is-dragging");
  }

  function moveDrag(event) {
    if (!drag || event.pointerId !== drag.pointerId) return;
    const dx = event.clientX - drag.x;
    const dy = event.clientY - drag.y;
    if (!drag.active) {
      const far = Math.abs(dx) > 4 || Math.abs(dy) > 4;
      if (drag.touch && drag.mode === "move") {
        if (Math.abs(dx) > 8 || Math.abs(dy) > 8) cancelDrag(false);  // a scroll
        return;
      }
      if (!far) return;
      activate();
    }
    event.preventDefault();
    const rows = parseInt(drag.grid.dataset.rows, 10);
    if (drag.mode === "move") {
      const column = columnAt(drag.grid, event.clientX) || drag.column;
      const row = clamp(rowAt(column, event.clientY) - drag.grab, 1, rows - drag.span + 1);
      if (column !== drag.column) {
        calRows(column).appendChild(drag.block);
        drag.column = column;
      }
      drag.row = row;
      place(drag.block, row, drag.span);
      showTime(drag.block, drag.grid, row);
    } else {
      const last = clamp(rowAt(drag.column, event.clientY), drag.row, rows);
      drag.span = last - drag.row + 1;
      place(drag.block, drag.row, drag.span);
    }
    // Near the window's top or bottom edge, scroll.
    if (event.clientY < 40) window.scrollBy(0, -12);
    else if (event.clientY > window.innerHeight - 40) window.scrollBy(0, 12);
  }

  function cancelDrag(restore) {
    if (!drag) return;
    window.clearTimeout(drag.timer);
    const block = drag.block;
    block.classList.remove("is-dragging");
    const region = block.closest(".cal");
    if (region) region.classList.remove("is-dragging");
    if (restore) {
      if (drag.column !== drag.home) calRows(drag.home).appendChild(block);
      block.style.gridRowStart = "";
      block.style.gridRowEnd = "";
      const label = block.querySelector(".cal__appt-time");
      if (label && drag.label) label.textContent = drag.label;
    }
    drag = null;
  }

  function endDrag(event) {
    if (!drag || event.pointerId !== drag.pointerId) return;
    if (!drag.active) { cancelDrag(false); return; }
    swallowClick = true;  // the click that follows a drop does not open the popup
    window.setTimeout(function () { swallowClick = false; }, 400);
    const d = drag;
    const moved = d.column !== d.home || d.row !== d.homeRow;
    const resized = d.span !== d.homeSpan;
    if (!moved && !resized) { cancelDrag(true); return; }
    d.block.classList.remove("is-dragging");
    const region = d.block.closest(".cal");
    if (region) region.classList.remove("is-dragging");
    drag = null;
    if (d.mode === "move") {
      sendMove(d.block, {
        start: wallTime(d.column.dataset.day, rowMinutes(d.grid, d.row)),
        practitioner: d.column.dataset.practitioner,
      });
    } else {
      sendMove(d.block, {
        start: d.block.dataset.start,
        end: wallTime(d.column.dataset.day, rowMinutes(d.grid, d.row + d.span)),
      });
    }
  }

  document.addEventListener("pointerdown", startDrag);
  document.addEventListener("pointermove", moveDrag, { passive: false });
  document.addEventListener("pointerup", endDrag);
  document.addEventListener("pointercancel", function (event) {
    if (drag && event.pointerId === drag.pointerId) cancelDrag(true);
  });
  // Once a touch drag has started, the finger moves the block, not the page.
  document.addEventListener("touchmove", function (event) {
    if (drag && drag.active) event.preventDefault();
  }, { passive: false });
  // A link's native drag (to the address bar, say) would cancel the pointer: not here.
  document.addEventListener("dragstart", function (event) {
    if (event.target.closest && event.target.closest(".cal__appt[data-move]")) event.preventDefault();
  });
  document.addEventListener("contextmenu", function (event) {
    if (drag) event.preventDefault();  // a long press is a drag, not a menu
  });
  document.addEventListener("click", function (event) {
    if (swallowClick && event.target.closest && event.target.closest(".cal__appt")) {
      event.preventDefault();
      event.stopPropagation();
      swallowClick = false;
    }
  }, true);
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && drag) cancelDrag(true);
  });

  // "Don't move" (outside working hours): the calendar shows it where it was.
  document.addEventListener("click", function (event) {
    const button = event.target.closest && event.target.closest("[data-cal-revert]");
    if (!button) return;
    document.getElementById("cal-status").replaceChildren();
    htmx.trigger(document.body, "calendarChanged");
  });

  document.body.addEventListener("htmx:afterRequest", function (event) {
    if (event.detail.target && event.detail.target.id === "cal-status") {
      document.querySelectorAll(".cal.is-saving").forEach(function (region) {
        region.classList.remove("is-saving");
      });
    }
  });

  // ---- keyboard: roving tabindex over the grid's slots and blocks

  function navItems(column) {
    return Array.from(column.querySelectorAll("a.cal__slot[data-row], .cal__appt[data-row]"))
      .sort(function (a, b) {
        const byRow = parseInt(a.dataset.row, 10) - parseInt(b.dataset.row, 10);
        if (byRow) return byRow;
        return (a.classList.contains("cal__appt") ? 1 : 0) - (b.classList.contains("cal__appt") ? 1 : 0);
      });
  }

  function rove(grid, target) {
    if (!target) return;
    grid.querySelectorAll("[data-row][tabindex='0']").forEach(function (item) {
      if (item !== target) item.setAttribute("tabindex", "-1");
    });
    target.setAttribute("tabindex", "0");
    target.focus();
  }

  function setUpGrid(grid) {
    if (grid.querySelector("[data-row][tabindex='0']")) return;
    // Without this script every block is a tab stop; with it, the grid is one.
    grid.querySelectorAll(".cal__appt[data-row]").forEach(function (block) {
      block.setAttribute("tabindex", "-1");
    });
    const first = grid.querySelector(".cal__appt[data-row]") ||
      grid.querySelector(".cal__col--today a.cal__slot[data-row]") ||
      grid.querySelector("a.cal__slot[data-row]");
    if (first) first.setAttribute("tabindex", "0");
    grid.querySelectorAll("[data-row]").forEach(function (item) {
      item.setAttribute("aria-describedby", "cal-keys");
    });
  }

  function slotAt(column, row) {
    const items = navItems(column);
    return items.find(function (item) { return parseInt(item.dataset.row, 10) === row; }) ||
      items.find(function (item) { return parseInt(item.dataset.row, 10) > row; }) ||
      items[items.length - 1];
  }

  function moveByKeys(block, event) {
    const grid = calGrid(block);
    const column = block.closest("[data-cal-col]");
    const row = parseInt(block.dataset.row, 10);
    const rows = parseInt(grid.dataset.rows, 10);
    const span = parseInt(block.dataset.span, 10);
    if (event.key === "ArrowUp" || event.key === "ArrowDown") {
      const step = event.key === "ArrowUp" ? -1 : 1;
      if (event.shiftKey) {  // Alt+Shift: the end
        const newSpan = clamp(span + step, 1, rows - row + 1);
        if (newSpan === span) return;
        sendMove(block, { start: block.dataset.start, end: wallTime(column.dataset.day, rowMinutes(grid, row + newSpan)) });
      } else {
        const newRow = clamp(row + step, 1, rows - span + 1);
        if (newRow === row) return;
        sendMove(block, { start: wallTime(column.dataset.day, rowMinutes(grid, newRow)), practitioner: column.dataset.practitioner });
      }
    } else {
      const columns = calColumns(grid);
      const next = columns[columns.indexOf(column) + (event.key === "ArrowLeft" ? -1 : 1)];
      if (!next) return;
      sendMove(block, { start: wallTime(next.dataset.day, rowMinutes(grid, row)), practitioner: next.dataset.practitioner });
    }
  }

  document.addEventListener("keydown", function (event) {
    const item = event.target.closest && event.target.closest("[data-cal-grid] [data-row]");
    if (!item) return;
    const keys = ["ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight", "Home", "End", "PageUp", "PageDown", " "];
    if (keys.indexOf(event.key) < 0) return;
    event.preventDefault();
    if (event.key === " ") { item.click(); return; }
    if (event.altKey && item.dataset.move && event.key.indexOf("Arrow") === 0) {
      moveByKeys(item, event);
      return;
    }
    const grid = calGrid(item);
    const column = item.closest("[data-cal-col]");
    const items = navItems(column);
    const index = items.indexOf(item);
    const row = parseInt(item.dataset.row, 10);
    let target = null;
    if (event.key === "ArrowUp") target = items[index - 1];
    else if (event.key === "ArrowDown") target = items[index + 1];
    else if (event.key === "Home") target = items[0];
    else if (event.key === "End") target = items[items.length - 1];
    else if (event.key === "PageUp") target = slotAt(column, Math.max(1, row - 4));
    else if (event.key === "PageDown") target = slotAt(column, row + 4);
    else {
      const columns = calColumns(grid);
      const next = columns[columns.indexOf(column) + (event.key === "ArrowLeft" ? -1 : 1)];
      if (next) target = slotAt(next, row);
    }
    rove(grid, target);
  });

  // A click (or a touch) on an item makes it the grid's tab stop.
  document.addEventListener("focusin", function (event) {
    const item = event.target.closest && event.target.closest("[data-cal-grid] [data-row]");
    if (item && item.getAttribute("tabindex") !== "0") rove(calGrid(item), item);
  });

  // ---- the current-time line: moved every minute (rows of 15 minutes, 3 offsets)

  function placeNowLine() {
    document.querySelectorAll("[data-cal-now]").forEach(function (line) {
      const grid = calGrid(line);
      if (!grid.dataset.nowStart) grid.dataset.nowStart = String(Date.now());
      if (!line.dataset.row0) {
        const match = line.className.match(/cal-r(\d+)/);
        const offset = line.className.match(/cal__now--o(\d+)/);
        line.dataset.row0 = match ? match[1] : "1";
        line.dataset.offset0 = offset ? offset[1] : "0";
      }
      const elapsed = Math.floor((Date.now() - parseInt(grid.dataset.nowStart, 10)) / 60000);
      const minutes = (parseInt(line.dataset.row0, 10) - 1) * 15 + parseInt(line.dataset.offset0, 10) + elapsed;
      const rows = parseInt(grid.dataset.rows, 10);
      line.hidden = minutes >= rows * 15;
      line.style.gridRowStart = String(Math.floor(minutes / 15) + 1);
      line.classList.remove("cal__now--o0", "cal__now--o5", "cal__now--o10");
      line.classList.add("cal__now--o" + (Math.floor((minutes % 15) / 5) * 5));
    });
  }
  window.setInterval(placeNowLine, 60000);

  function setUpCalendar() {
    document.querySelectorAll("[data-cal-grid]").forEach(setUpGrid);
    if (focusAfterRefresh) {
      // After a keyboard move the moved appointment keeps the focus.
      const moved = document.querySelector(".cal__appt[data-move='" + focusAfterRefresh + "']");
      const active = document.activeElement;
      if (moved && (!active || active === document.body || calGrid(active))) rove(calGrid(moved), moved);
      focusAfterRefresh = null;
    }
  }
  document.body.addEventListener("htmx:afterSettle", function (event) {
    if (event.detail.elt && event.detail.elt.id === "calendar") setUpCalendar();
    else if (event.target && event.target.id === "calendar") setUpCalendar();
  });
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setUpCalendar);
  else setUpCalendar();

  // ---- Edit details: quick changes of the date and times (a move without a mouse)

  document.addEventListener("click", function (event) {
    const button = event.target.closest && event.target.closest("[data-shift]");
    if (!button) return;
    event.preventDefault();
    const form = button.closest("form");
    const date = form.querySelector("input[name=date]");
    const start = form.querySelector("input[name=start_time]");
    const end = form.querySelector("input[name=end_time]");
    if (!date || !date.value) return;
    const days = parseInt(button.dataset.shiftDays || "0", 10);
    const minutes = parseInt(button.dataset.shiftMinutes || "0", 10);
    let dayShift = days;
    function shiftTime(input) {
      if (!input || !input.value) return 0;
      const parts = input.value.split(":").map(Number);
      const total = parts[0] * 60 + parts[1] + minutes;
      input.value = pad(Math.floor((((total % 1440) + 1440) % 1440) / 60)) + ":" + pad(((total % 60) + 60) % 60);
      return Math.floor(total / 1440);
    }
    dayShift += shiftTime(start);
    shiftTime(end);
    if (dayShift) date.value = wallTime(date.value, dayShift * 1440).slice(0, 10);
    [date, start, end].forEach(function (input) {
      if (input) input.dispatchEvent(new Event("change", { bubbles: true }));
    });
  });
  // ================================================================ end calendar: scheduling

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
