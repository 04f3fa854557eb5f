// The export page's "Select all" box, bound here: django-import-export's template used an inline
// onchange handler, which the Content-Security-Policy blocks (templates/admin/import_export/export.html).
"use strict";
document.addEventListener("change", (event) => {
  if (!event.target.matches("input.select-toggle")) return;
  const checked = event.target.checked;
  document.querySelectorAll('.selectable-field-export-row input[type="checkbox"]').forEach((box) => {
    box.checked = checked;
  });
});
