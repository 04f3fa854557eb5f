// django-celery-beat's periodic task form, without its inline script (the Content-Security-Policy
// blocks inline script): hides the crontab translation row and shows the chosen schedule in words.
// Loaded by templates/admin/djcelery/change_periodictask_form.html, after the admin's jQuery.
"use strict";
{
  const $ = django.jQuery;
  const readable = JSON.parse(document.getElementById("readable-crontabs").textContent);
  const help = JSON.parse(document.getElementById("crontab-help-text").textContent);
  $(".field-crontab_translation").hide();
  $(".field-crontab").change(() => {
    const translation = readable[$("#id_crontab").val()] || "";
    $(".field-crontab .help").empty().append(document.createTextNode(help), "<br>",
      document.createTextNode(`Translation: ${translation}`));
  });
}
