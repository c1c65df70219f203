// The optional read token, kept in this browser's localStorage.

import { setToken, token } from "./api.js";

/** Wire the header's Token button to its dialog; `onChange` runs after a save or a clear. */
export function setupTokenDialog(onChange) {
  const button = document.getElementById("token-button");
  const dialog = document.getElementById("token-dialog");
  const input = document.getElementById("token-input");
  if (!button || !dialog || !input) return;
  const mark = () => button.classList.toggle("has-token", Boolean(token()));
  mark();
  button.addEventListener("click", () => {
    input.value = token();
    dialog.showModal();
    input.focus();
  });
  dialog.addEventListener("close", () => {
    if (dialog.returnValue === "save") setToken(input.value.trim());
    else if (dialog.returnValue === "clear") setToken("");
    else return;
    mark();
    onChange();
  });
}
