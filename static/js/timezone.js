// Sign-up: preselect the browser's time zone, which decides where the learner's day starts.
(function () {
  "use strict";
  var select = document.getElementById("id_timezone");
  if (!select || select.value !== "UTC") return;
  var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (zone && select.querySelector('option[value="' + zone + '"]')) select.value = zone;
})();
