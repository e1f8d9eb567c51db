/* Calendar and appointments: small progressive enhancements. Everything works without
   this file (filters have a Show button, search has a Search button). Loaded by the
   calendar pages and by popups opened elsewhere, so it guards against running twice. */
(function () {
  "use strict";
  if (window.caspenCalendar) return;
  window.caspenCalendar = true;

  // Buttons only needed without JavaScript (.js-hide) disappear.
  document.documentElement.classList.add("js");

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
      if (window.htmx) window.htmx.trigger(input, "search");
    }
  });
})();
