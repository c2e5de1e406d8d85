// trustlab: a page opened by a public study link (?study=NAME, kept in the address bar) is a
// participant's: the staff tabs (Researcher, Curator) are hidden from its first paint, on the consent,
// instructions and error screens too. Staff open / without a study link and see them.
(function () {
  if (new URLSearchParams(window.location.search).get('study')) {
    document.documentElement.classList.add('tl-participant');
  }
})();
