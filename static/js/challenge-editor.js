// The challenge page's code editor: CodeJar (vendored) with Prism's Python highlighting.
// Progressive enhancement: without JavaScript the plain <textarea> is the editor and the
// form posts it as is; with it, the textarea is hidden and kept in sync with the editor.
import { CodeJar } from "../vendor/codejar-4.3.0.js";

function highlight(element) {
  if (window.Prism && window.Prism.languages.python) {
    element.innerHTML = window.Prism.highlight(element.textContent, window.Prism.languages.python, "python");
  }
}

function enhance(textarea) {
  const editor = document.createElement("div");
  editor.className = "code-editor language-python";
  editor.setAttribute("role", "textbox");
  editor.setAttribute("aria-multiline", "true");
  editor.setAttribute("aria-describedby", "editor-keys");
  const label = document.querySelector(`label[for="${textarea.id}"]`);
  if (label) {
    label.id = label.id || `${textarea.id}-label`;
    editor.setAttribute("aria-labelledby", label.id);
  }
  textarea.hidden = true;
  textarea.after(editor);

  const jar = CodeJar(editor, highlight, { tab: "    ", indentOn: /[:({[]$/ });
  jar.updateCode(textarea.value, false); // fills and highlights; the textarea already holds it
  jar.onUpdate((code) => {
    textarea.value = code;
  });
  // Tab indents inside the editor; Escape releases it so Tab moves focus on (keyboard users).
  editor.addEventListener("keydown", (event) => {
    if (event.key === "Escape") jar.updateOptions({ catchTab: false });
  });
  editor.addEventListener("focus", () => jar.updateOptions({ catchTab: true }));
  editor.codeJar = jar; // for scripts and tests: editor.codeJar.updateCode(text)
  return editor;
}

for (const textarea of document.querySelectorAll("textarea[data-editor]")) {
  enhance(textarea);
}

// "Reset to the starter code" in place (the link reloads the page with it, without JavaScript),
// with a way back to what was there: a reset should lose nothing.
const reset = document.getElementById("reset-starter");
const undo = document.getElementById("undo-reset");
const starter = document.querySelector(".starter pre code");
const code = document.getElementById("code");
const editor = document.querySelector(".code-editor");
if (reset && undo && starter && code && editor) {
  let before = null;
  const put = (text) => {
    editor.codeJar.updateCode(text);
    code.value = text;
  };
  reset.addEventListener("click", (event) => {
    event.preventDefault();
    before = code.value;
    put(starter.textContent);
    undo.hidden = false;
    editor.focus();
  });
  undo.addEventListener("click", () => {
    if (before !== null) put(before);
    before = null;
    undo.hidden = true;
    editor.focus();
  });
}
