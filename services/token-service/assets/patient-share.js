// The shared-link page's copy button. The link is in a read-only field the patient can select by
// hand; with this script the button copies it: the Clipboard API where the page is a secure
// context (HTTPS, or localhost), else the selection and the older copy command (a site served over
// plain HTTP on its network). The button stays hidden without the script.
(() => {
  for (const button of document.querySelectorAll('button[data-copy]')) {
    const field = document.getElementById(button.getAttribute('data-copy') ?? '');
    const status = document.getElementById(button.getAttribute('data-status') ?? '');
    if (!(field instanceof HTMLInputElement)) continue;
    button.hidden = false;
    button.addEventListener('click', async () => {
      let copied = false;
      try {
        if (navigator.clipboard && window.isSecureContext) {
          await navigator.clipboard.writeText(field.value);
          copied = true;
        }
      } catch {
        // Refused (no permission): try the selection below.
      }
      if (!copied) {
        field.focus();
        field.select();
        field.setSelectionRange(0, field.value.length);
        try {
          copied = document.execCommand('copy');
        } catch {
          copied = false;
        }
      }
      if (copied && status) status.textContent = button.getAttribute('data-copied') ?? '';
    });
  }
})();
