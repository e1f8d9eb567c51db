/* Caspen's only script: htmx settings and the popup dialog. No build step. */
(function () {
  "use strict";

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

  const modal = () => document.getElementById("modal");

  // Anything loaded into the dialog's body opens the dialog: after htmx has settled
  // the new content, so its inputs already answer (typing at once is never lost).
  // A response that closes the popup (HX-Trigger "closeModal", possibly after the swap)
  // or swaps nothing must not open it again when it settles.
  function closesModal(xhr) {
    if (!xhr) return false;
    if (xhr.getResponseHeader("HX-Reswap") === "none") return true;
    return ["HX-Trigger", "HX-Trigger-After-Swap", "HX-Trigger-After-Settle"].some(function (name) {
      return (xhr.getResponseHeader(name) || "").indexOf("closeModal") !== -1;
    });
  }
  // A request sent from inside the open popup (a form re-rendered with its error, say)
  // must not open it again if the user closed it (Escape, X) before the answer settled.
  document.body.addEventListener("htmx:beforeRequest", function (event) {
    const dialog = modal();
    const xhr = event.detail.xhr;
    if (xhr && dialog) xhr.caspenFromPopup = dialog.open && dialog.contains(event.detail.elt);
  });
  document.body.addEventListener("htmx:afterSettle", function (event) {
    const xhr = event.detail.xhr;
    if (closesModal(xhr)) return;
    if (event.detail.target && event.detail.target.id === "modal-body") {
      const dialog = modal();
      // Focus already in the open popup's new content means someone is typing there
      // (the answer swapped in, then they clicked a field before it settled): keep it.
      const active = document.activeElement;
      const typing = dialog.open && active && active !== document.body && dialog.contains(active);
      if (!dialog.open) {
        if (xhr && xhr.caspenFromPopup) return;
        if (!event.detail.target.firstElementChild) return;
        dialog.showModal();
      }
      if (typing) return;
      // Otherwise the first field, or the first one in error after a refusal.
      const first = dialog.querySelector("[aria-invalid=true]")
        || dialog.querySelector("[autofocus], input:not([type=hidden]), select, textarea, button:not([data-close-modal])");
      if (first) first.focus();
    }
  });

  // Servers close the dialog with the HX-Trigger "closeModal".
  document.body.addEventListener("closeModal", function () {
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
    if (event.target === dialog) dialog.close();
  });

  // Clear the dialog after it closes so stale forms never flash on the next open.
  document.addEventListener("close", function (event) {
    if (event.target.id === "modal") document.getElementById("modal-body").innerHTML = "";
  }, true);

  // A network failure or a server error must never fail silently.
  document.body.addEventListener("htmx:responseError", function (event) {
    const status = event.detail.xhr.status;
    if (status === 503) {
      showError("The connection to the database was lost. Nothing was saved; please try again.");
    } else {
      showError("Something went wrong (" + status + "). Nothing was saved; please try again.");
    }
  });
  document.body.addEventListener("htmx:sendError", function () {
    showError("The server could not be reached. Check the connection and try again.");
  });

  function showError(text) {
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
})();
