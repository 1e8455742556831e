/* The script of every console page: confirmations, "select all" and printing (maps: map.js). */
document.addEventListener("submit", function (event) {
  var button = event.submitter || event.target.querySelector("[data-confirm]");
  var text = button && button.getAttribute("data-confirm");
  if (text && !window.confirm(text)) { event.preventDefault(); }
});
document.addEventListener("change", function (event) {
  var box = event.target;
  if (!box.matches("input[data-select-all]")) { return; }
  document.querySelectorAll("input[name='" + box.getAttribute("data-select-all") + "']").forEach(function (b) {
    b.checked = box.checked;
  });
});
document.addEventListener("click", function (event) {
  if (event.target.matches("[data-print]")) { window.print(); }
});
