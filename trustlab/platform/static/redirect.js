// trustlab: the end of a link study sends the participant back to the recruiting platform
// (Prolific, MTurk) a moment after showing the code: an element #tl-redirect[data-href] on the page.
(function () {
  if (window.__trustlabRedirect) return;
  window.__trustlabRedirect = true;
  const DELAY_MS = 1500;
  let scheduled = null;
  function check() {
    const marker = document.getElementById('tl-redirect');
    const href = marker && marker.getAttribute('data-href');
    if (!href || href === scheduled || !/^https?:\/\//.test(href)) return;
    scheduled = href;
    setTimeout(function () { window.location.assign(href); }, DELAY_MS);
  }
  new MutationObserver(check).observe(document.documentElement, { childList: true, subtree: true });
})();
