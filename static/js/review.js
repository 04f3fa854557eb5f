// Keyboard review: Space shows the answer, 0-5 grade, Z undoes. Also measures the time
// from question shown to answer and sends it as duration_ms (the server clamps it).
(function () {
  "use strict";
  var shownAt = performance.now();

  function session() { return document.getElementById("review-session"); }
  function reveal() { return document.getElementById("reveal"); }

  function focusCurrent() {
    var target = document.querySelector("#review-session .card-question, #done-heading");
    if (target) target.focus({ preventScroll: true });
  }

  function showAnswer() {
    var details = reveal();
    if (!details || details.open) return false;
    details.open = true;  // the "toggle" listener below moves focus and scrolls
    return true;
  }

  // However the answer was shown (Space, a click, a tap): focus it for screen readers and bring
  // the grade buttons into view (on a phone they would otherwise sit below the fold).
  document.addEventListener("toggle", function (event) {
    var details = event.target;
    if (!details || details.id !== "reveal" || !details.open) return;
    var answer = details.querySelector(".card-answer");
    if (answer) answer.focus({ preventScroll: true });
    var grades = details.querySelector(".grades");
    if (grades) grades.scrollIntoView({ block: "nearest" });
  }, true);

  function typing(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }

  document.addEventListener("keydown", function (event) {
    if (!session() || event.ctrlKey || event.metaKey || event.altKey || event.repeat || typing(event.target)) return;
    var key = event.key;
    if (key === " " || key === "Spacebar") {
      var details = reveal();
      // Space on a focused button keeps its own meaning once the answer is shown.
      if (details && (!details.open || event.target.tagName !== "BUTTON")) {
        event.preventDefault();
        showAnswer();
      }
    } else if (/^[0-5]$/.test(key)) {
      var details2 = reveal();
      if (!details2 || !details2.open) return;
      var button = details2.querySelector('button[data-quality="' + key + '"]');
      if (button) { event.preventDefault(); button.click(); }
    } else if (key === "z" || key === "Z") {
      var undo = document.getElementById("undo-button");
      if (undo) { event.preventDefault(); undo.click(); }
    }
  });

  // Capture phase: runs before htmx reads the form, so the duration goes with the request.
  document.addEventListener("submit", function (event) {
    var field = event.target.querySelector && event.target.querySelector('input[name="duration_ms"]');
    if (field) field.value = String(Math.round(performance.now() - shownAt));
  }, true);

  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "review-session") {
      shownAt = performance.now();
      focusCurrent();
    }
  });
})();
