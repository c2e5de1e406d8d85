// trustlab keyboard shortcuts (installed through mount_gradio_app's `head`).
// Rating: y/n, digits, arrows, c, t, Enter, ?.  Curator: a, r, u, digits, o.
(function () {
  if (window.__trustlabKeys) return;
  window.__trustlabKeys = true;
  let active = 0;
  let lastAssignment = null;

  const visible = (el) => !!el && el.offsetParent !== null;
  const byId = (id) => document.getElementById(id);
  const questions = () => Array.from(document.querySelectorAll('.tl-q')).filter(visible);

  function mark() {
    const qs = questions();
    qs.forEach((q, i) => q.classList.toggle('tl-active', i === active));
  }
  function syncItem() {
    const stage = document.querySelector('.tl-stage');
    const id = stage ? stage.getAttribute('data-assignment') : null;
    if (id !== lastAssignment) { lastAssignment = id; active = 0; }
  }
  function move(step) {
    const qs = questions();
    if (!qs.length) return;
    active = Math.max(0, Math.min(qs.length - 1, active + step));
    mark();
    qs[active].scrollIntoView({ block: 'nearest' });
  }
  function choose(q, n) {
    const inputs = q.querySelectorAll('input[type=radio]');
    if (n >= 1 && n <= inputs.length) { inputs[n - 1].click(); return true; }
    return false;
  }
  function chooseValue(q, value) {
    const input = Array.from(q.querySelectorAll('input[type=radio]')).find((i) => i.value === value);
    if (input) { input.click(); return true; }
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
    if (e.key === 'Enter') { e.preventDefault(); click('tl-submit'); return; }
    if (e.key === '?') { const h = byId('tl-help'); if (h) h.classList.toggle('tl-help-hidden'); return; }
    if (e.key === 'ArrowDown' || e.key === 'j') { e.preventDefault(); move(1); return; }
    if (e.key === 'ArrowUp' || e.key === 'k') { e.preventDefault(); move(-1); return; }
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
        if (i >= 0) { active = i; move(1); }
      }
      return;
    }
    if (/^[1-9]$/.test(e.key) && qs.length) {
      const q = qs[Math.min(active, qs.length - 1)];
      if (choose(q, parseInt(e.key, 10))) move(1);
    }
  }

  function curatorKeys(e) {
    const t = e.target;
    if (t && (t.tagName === 'TEXTAREA' || (t.tagName === 'INPUT' && t.type !== 'radio'))) return;
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
  new MutationObserver(function () { syncItem(); mark(); })
    .observe(document.documentElement, { childList: true, subtree: true });
})();
