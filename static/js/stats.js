// The stats page's calendar: one tab stop (today); the arrow keys move a day (up/down) or a week
// (left/right), Home and End go to the first and last day. The day under the pointer or the focus
// is written out under the calendar. Without JavaScript each day still has its <title> on hover
// and the list under the calendar.
(function () {
  "use strict";
  var calendar = document.getElementById("heatmap");
  var detail = document.getElementById("heat-detail");
  if (!calendar || !detail) return;
  var days = Array.prototype.slice.call(calendar.querySelectorAll("rect.heat"));
  var steps = { ArrowUp: -1, ArrowDown: 1, ArrowLeft: -7, ArrowRight: 7 };

  function show(day) { detail.textContent = day.getAttribute("aria-label"); }

  days.forEach(function (day, index) {
    day.addEventListener("focus", function () { show(day); });
    day.addEventListener("mouseenter", function () { show(day); });
    day.addEventListener("keydown", function (event) {
      var target = event.key === "Home" ? 0 : event.key === "End" ? days.length - 1 : index + (steps[event.key] || 0);
      if (target === index && !(event.key in steps)) return;
      event.preventDefault();
      if (target < 0 || target >= days.length) return;
      day.tabIndex = -1;
      days[target].tabIndex = 0;
      days[target].focus();
    });
  });
})();
