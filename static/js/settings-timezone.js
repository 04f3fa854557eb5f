// Settings: while the profile still has the default zone, offer the browser's own and say so.
(function () {
  "use strict";
  var select = document.querySelector("select[data-browser-default]");
  if (!select) return;
  var zone;
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  } catch (e) {
    return;
  }
  if (!zone || zone === select.value) return;
  var options = Array.prototype.filter.call(select.options, function (option) { return option.value === zone; });
  if (!options.length) return;
  select.value = zone;
  var note = document.getElementById("timezone-from-browser");
  if (note) note.hidden = false;
})();
