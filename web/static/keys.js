// keys.js: the presenter's keyboard shortcuts. Every control that has one
// says so in its markup: aria-keyshortcuts="S" (for assistive tools) and a
// <kbd>S</kbd> on screen. This module reads them from there, so the key
// shown and the key that works cannot disagree.
// Why: on stage the teacher talks and faces the class; one key press drops
// a transport or opens a chat box, no mouse hunt on a projector.
//
// A letter with Shift is its own shortcut: aria-keyshortcuts="Shift+S" (go
// silent) is not "S" (drop). The <kbd> shows the same text.
//
// A key does nothing while the focus is in a text field (the teacher is
// typing a chat message), nor with Ctrl, Alt or Meta (browser shortcuts).
// Escape leaves a text field, so the keys work again.

// listen starts handling keys on doc. reveal(el) is called before a text
// field is focused, to switch to a view that shows it.
export function listen(doc, { reveal = () => {} } = {}) {
  // A text field is focused when its key goes up, not down: focused during
  // keydown, it would receive the key's own character as typed text.
  let armed = null; // {key, el}: the text field to focus on keyup
  doc.addEventListener("keydown", (e) => {
    if (e.defaultPrevented || e.ctrlKey || e.altKey || e.metaKey || e.isComposing) return;
    if (isTextField(e.target)) {
      if (e.key === "Escape") e.target.blur();
      return;
    }
    if (e.repeat) return; // a held key drops once, not ten times
    const el = find(doc, keyName(e));
    if (!el) return;
    e.preventDefault();
    if (isTextField(el)) armed = { key: e.key.toUpperCase(), el };
    else el.click();
  });
  doc.addEventListener("keyup", (e) => {
    if (!armed || e.key.toUpperCase() !== armed.key) return;
    const { el } = armed;
    armed = null;
    openField(el, reveal);
  });
}

// keyName names a key press as aria-keyshortcuts does: "S", "Shift+S",
// "1", "Escape". Shift counts only with letters (Shift+1 types "!").
function keyName(e) {
  if (/^[a-z]$/i.test(e.key)) return (e.shiftKey ? "Shift+" : "") + e.key.toUpperCase();
  return e.key;
}

// find returns the control whose aria-keyshortcuts is want.
function find(doc, want) {
  for (const el of doc.querySelectorAll("[aria-keyshortcuts]")) {
    if (el.getAttribute("aria-keyshortcuts").split(" ").includes(want)) return el;
  }
  return null;
}

// openField puts the focus in a text field; a chat box that already holds
// text (typed in advance) is sent at once.
function openField(el, reveal) {
  reveal(el);
  el.focus();
  if (el.value.trim() !== "" && el.form) el.form.requestSubmit();
}

function isTextField(el) {
  return el instanceof HTMLElement && (el.isContentEditable || el.matches("input, textarea, select"));
}
