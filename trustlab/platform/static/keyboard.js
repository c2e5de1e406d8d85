// trustlab keyboard shortcuts (installed through mount_gradio_app's `head`).
// Rating: y/n, digits (two for 10 and up), j/k (arrows inside a question), c, t, Enter, ?.
// Curator: a, r, u, digits, o. Single-key shortcuts can be switched off (#tl-keys-on).
(function () {
  if (window.__trustlabKeys) return;
  window.__trustlabKeys = true;
  let active = 0;
  let lastAssignment = null;

  const visible = (el) => !!el && el.offsetParent !== null;
  // Really on screen (Gradio may hide a block without display: none on its ancestors).
  const shown = (el) => visible(el) && (!el.checkVisibility || el.checkVisibility({ checkOpacity: true, visibilityProperty: true }))
    && el.getBoundingClientRect().width > 0;
  const byId = (id) => document.getElementById(id);
  const questions = () => Array.from(document.querySelectorAll('.tl-q')).filter(visible);
  // WCAG 2.1.4: the rater can switch single-key shortcuts off (a checkbox on the page, remembered in
  // this browser). Enter (submit) and Escape stay: they are not character keys.
  const KEYS_STORAGE = 'trustlab-single-keys';
  const TWO_DIGIT_WAIT_MS = 700;
  let digits = '';
  let digitTimer = null;
  function keysToggle() { return document.querySelector('#tl-keys-on input[type=checkbox]'); }
  function singleKeysOn() { return localStorage.getItem(KEYS_STORAGE) !== 'off'; }
  // The stored choice wins: the box is set to it whenever Gradio (re)renders it.
  let lastSync = 0;
  function syncToggle() {
    const box = keysToggle();
    if (!box) return;
    if (!box.dataset.tlBound) {
      box.dataset.tlBound = '1';
      box.addEventListener('change', () => localStorage.setItem(KEYS_STORAGE, box.checked ? 'on' : 'off'));
    }
    const now = Date.now();
    if (box.checked !== singleKeysOn() && !box.disabled && now - lastSync > 300) { lastSync = now; box.click(); }
  }
  setInterval(syncToggle, 500);

  function mark() {
    const qs = questions();
    qs.forEach((q, i) => q.classList.toggle('tl-active', i === active));
  }
  // A new screen starts at its top (a phone stayed scrolled down to the Submit it left from).
  function syncItem() {
    const stage = document.querySelector('.tl-stage');
    const id = stage ? stage.getAttribute('data-assignment') : null;
    if (id !== lastAssignment) {
      const scrolled = lastAssignment !== null && id !== null;
      lastAssignment = id; active = 0; digits = '';
      if (scrolled) window.scrollTo(0, 0);
    }
  }
  // Feedback or a "please answer" under the questions is brought into view with the button that
  // goes on (Continue, Submit): Enter must never act below the fold.
  let lastMessage = '';
  function syncMessage() {
    // The message's own text (not Gradio's status tracker beside it, which shows timings).
    const box = document.querySelector('#tl-message [data-testid="markdown"]');
    const text = box && visible(box) ? box.textContent.trim() : '';
    if (text === lastMessage) return;
    lastMessage = text;
    const submit = byId('tl-submit');
    if (text && visible(submit)) requestAnimationFrame(() => submit.scrollIntoView({ block: 'nearest' }));
  }
  function move(step, focus) {
    const qs = questions();
    if (!qs.length) return;
    active = Math.max(0, Math.min(qs.length - 1, active + step));
    mark();
    qs[active].scrollIntoView({ block: 'nearest' });
    if (focus) { const first = qs[active].querySelector('input, textarea'); if (first) first.focus(); }
  }
  // An option's key is the number its label starts with ("3  phone", a Likert "10"): 0-9 and more.
  function optionKeys(q) {
    return Array.from(q.querySelectorAll('input[type=radio]')).map((input) => {
      const label = input.closest('label');
      const m = ((label && label.textContent) || input.value || '').trim().match(/^(\d+)/);
      return { input, key: m ? m[1] : null };
    }).filter((o) => o.key !== null);
  }
  function pick(q, typed) {
    const hit = optionKeys(q).find((o) => o.key === typed);
    if (hit) { hit.input.click(); move(1, false); }
    return !!hit;
  }
  // Digits build a number: chosen at once when no option with more digits starts with them, else
  // after a pause.
  function digit(q, d) {
    clearTimeout(digitTimer);
    digits += d;
    const keys = optionKeys(q).map((o) => o.key);
    const longer = keys.some((k) => k.length > digits.length && k.startsWith(digits));
    if (!longer) { const typed = digits; digits = ''; if (!pick(q, typed) && typed.length > 1) pick(q, d); return; }
    digitTimer = setTimeout(() => { const typed = digits; digits = ''; pick(q, typed); }, TWO_DIGIT_WAIT_MS);
  }
  function chooseValue(q, value) {
    const input = Array.from(q.querySelectorAll('input[type=radio]')).find((i) => i.value === value);
    if (input) { input.click(); return true; }
    return false;
  }
  function choose(q, n) {
    const inputs = q.querySelectorAll('input[type=radio]');
    if (n >= 1 && n <= inputs.length) { inputs[n - 1].click(); return true; }
    return false;
  }
  function click(id) { const b = byId(id); if (visible(b)) b.click(); }

  function ratingKeys(e) {
    syncItem();
    const t = e.target;
    const typing = t && (t.tagName === 'TEXTAREA' || (t.tagName === 'INPUT' && t.type !== 'radio' && t.type !== 'checkbox'));
    if (typing) {
      if (e.key === 'Escape') { t.blur(); }
      else if (e.key === 'Enter' && !e.shiftKey && t.closest('#tl-rate-panel')) {
        e.preventDefault(); t.blur(); setTimeout(() => click('tl-submit'), 50);
      }
      return;
    }
    const qs = questions();
    if (e.key === 'Enter') {
      if (t && t.tagName === 'BUTTON' && shown(t)) return;  // a focused button takes its own Enter
      e.preventDefault(); click('tl-submit'); return;
    }
    // Arrows scroll the page unless a question has focus; then they move between questions.
    const inQuestion = t && t.closest && t.closest('.tl-q');
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      if (!inQuestion) return;
      e.preventDefault();
      const i = qs.indexOf(inQuestion);
      if (i >= 0) active = i;
      move(e.key === 'ArrowDown' ? 1 : -1, true);
      return;
    }
    if (!singleKeysOn() || e.key.length !== 1) return;
    if (e.key === '?') { const h = byId('tl-help'); if (h) h.classList.toggle('tl-help-hidden'); return; }
    if (e.key === 'j') { e.preventDefault(); move(1, false); return; }
    if (e.key === 'k') { e.preventDefault(); move(-1, false); return; }
    if (e.key === 'c') { const box = document.querySelector('#tl-q-cant_tell input[type=checkbox]'); if (box) box.click(); return; }
    if (e.key === 't') {
      const box = document.querySelector('#tl-q-comment textarea, #tl-q-comment input');
      if (visible(box)) { e.preventDefault(); box.focus(); }
      return;
    }
    if (e.key === 'y' || e.key === 'n') {
      const q = byId('tl-q-model_correct');
      if (visible(q) && chooseValue(q, e.key === 'y' ? 'yes' : 'no')) {
        const i = qs.indexOf(q);
        if (i >= 0) { active = i; move(1, false); }
      }
      return;
    }
    if (/^[0-9]$/.test(e.key) && qs.length) {
      if (inQuestion) { const i = qs.indexOf(inQuestion); if (i >= 0) active = i; }
      digit(qs[Math.min(active, qs.length - 1)], e.key);
    }
  }

  function curatorKeys(e) {
    const t = e.target;
    if (t && (t.tagName === 'TEXTAREA' || (t.tagName === 'INPUT' && t.type !== 'radio'))) return;
    if (!singleKeysOn()) return;
    if (e.key === 'a') click('tl-cur-accept');
    else if (e.key === 'r') click('tl-cur-reject');
    else if (e.key === 'u') click('tl-cur-undo');
    else if (e.key === 'o') click('tl-cur-apply');
    else if (/^[1-9]$/.test(e.key)) { const q = byId('tl-cur-other'); if (visible(q)) choose(q, parseInt(e.key, 10)); }
  }

  document.addEventListener('keydown', function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (visible(byId('tl-rate-panel'))) ratingKeys(e);
    else if (visible(byId('tl-cur-card')) && document.querySelector('.tl-cur-card')) curatorKeys(e);
  }, true);

  // Re-highlight after Gradio re-renders the questions.
  new MutationObserver(function () { syncItem(); syncMessage(); mark(); syncToggle(); })
    .observe(document.documentElement, { childList: true, subtree: true });
})();
