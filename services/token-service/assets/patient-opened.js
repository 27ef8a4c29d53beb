// The patient page's only script. A mail system's link scanner fetches the page without running
// scripts, so the server records that GET as "fetched"; this same-origin POST, sent once the page
// has loaded in a browser, records it as opened (and marks this browser for the zip link).
(() => {
  const query = window.location.search;
  if (query.length < 2) return;
  fetch(`/token/opened${query}`, {
    method: 'POST',
    credentials: 'same-origin',
    cache: 'no-store',
    keepalive: true,
  }).catch(() => {
    // Nothing to tell the patient: the page works without it.
  });
})();
