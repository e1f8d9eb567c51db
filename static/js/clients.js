/* Client list: the Actions menus (<details class="menu">) close like menus do: on a
   click elsewhere, on Escape (focus returns to the summary), and when another opens.
   Without this script they still work, they just stay open until toggled. */
(function () {
  "use strict";

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
})();
