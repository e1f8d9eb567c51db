/* The package form: show each chosen service's quantity when "Define quantities" is
   ticked (with their running total), and the period when "This package expires" is
   ticked. Without this script every input stays visible and the server ignores the
   ones that don't apply. */
(function () {
  "use strict";

  function sync(form) {
    var fixed = form.querySelector("input[name=define_quantities]");
    var expires = form.querySelector("input[name=expires]");
    var credits = parseInt((form.querySelector("input[name=credits]") || {}).value, 10);
    var total = 0;
    form.querySelectorAll("[data-package-service]").forEach(function (row) {
      var pick = row.querySelector("input[name=services]");
      var box = row.querySelector("[data-quantity]");
      var show = Boolean(fixed && fixed.checked && pick && pick.checked);
      box.hidden = !show;
      if (show) {
        var value = parseInt(box.querySelector("input").value, 10);
        if (value > 0) total += value;
      }
    });
    var summary = form.querySelector("[data-quantity-total]");
    if (summary) {
      summary.hidden = !(fixed && fixed.checked);
      var creditsText = isNaN(credits) ? "the package's credits" : credits + (credits === 1 ? " credit" : " credits");
      summary.textContent = "The quantities add up to " + total + " of " + creditsText + ".";
      summary.classList.toggle("is-off", isNaN(credits) || total !== credits);
    }
    var period = form.querySelector("[data-expiry-fields]");
    if (period && expires) period.hidden = !expires.checked;
  }

  function syncAll(root) {
    (root || document).querySelectorAll("[data-package-form]").forEach(sync);
  }

  function onChange(event) {
    var form = event.target.closest && event.target.closest("[data-package-form]");
    if (form) sync(form);
  }

  document.addEventListener("change", onChange);
  document.addEventListener("input", onChange);
  // The form is swapped by htmx after a refused save: set it up again.
  document.addEventListener("htmx:afterSwap", function () { syncAll(); });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { syncAll(); });
  } else {
    syncAll();
  }
})();
