/* Billing: the Print button of the invoice's print view (no inline script, for the CSP). */
(function () {
  "use strict";

  document.addEventListener("click", function (event) {
    const button = event.target.closest("[data-print]");
    if (!button) return;
    event.preventDefault();
    window.print();
  });
})();
