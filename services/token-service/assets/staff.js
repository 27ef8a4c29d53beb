(() => {
  // Every word this script shows comes from the staff catalogue, through the page (staff.layout.ts).
  let text = {};
  try {
    text = JSON.parse(document.body.getAttribute('data-staff-text') || '{}');
  } catch {
    text = {};
  }

  function show(status, message, ok) {
    if (!status) return;
    status.textContent = message;
    status.className = `copy-status ${ok ? 'ok' : 'fail'}`;
  }

  // Where the browser refuses or lacks the clipboard API, the link is left selected in its
  // read-only field, so Ctrl+C / Cmd+C (or the touch menu) copies it.
  function selectForManualCopy(input, status) {
    input.focus();
    input.select();
    input.setSelectionRange(0, input.value.length);
    show(status, text.copyManual || '', false);
  }

  function withTimeout(promise, ms) {
    return Promise.race([
      promise,
      new Promise((_, reject) => {
        setTimeout(() => {
          reject(new Error('timeout'));
        }, ms);
      }),
    ]);
  }

  document.querySelectorAll('button[data-copy]').forEach((button) => {
    button.hidden = false;
    button.addEventListener('click', () => {
      const input = document.getElementById(button.getAttribute('data-copy'));
      const status = document.getElementById(button.getAttribute('data-status'));
      if (!input) return;
      const clipboard = window.isSecureContext && navigator.clipboard;
      if (!clipboard || typeof clipboard.writeText !== 'function') {
        selectForManualCopy(input, status);
        return;
      }
      withTimeout(clipboard.writeText(input.value), 3000).then(
        () => {
          show(status, button.getAttribute('data-done') || text.copied || '', true);
        },
        () => {
          selectForManualCopy(input, status);
        },
      );
    });
  });

  document.querySelectorAll('input[data-select-all]').forEach((input) => {
    input.addEventListener('focus', () => {
      input.select();
    });
    input.addEventListener('click', () => {
      input.select();
    });
  });

  document.querySelectorAll('button[data-print]').forEach((button) => {
    button.hidden = false;
    button.addEventListener('click', () => {
      window.print();
    });
  });

  document.querySelectorAll('input[data-disables]').forEach((box) => {
    const target = document.getElementById(box.getAttribute('data-disables'));
    if (!target) return;
    const sync = () => {
      target.disabled = box.checked;
    };
    box.addEventListener('change', sync);
    sync();
  });

  // Setup page: the link a token would get, recomputed as the address fields change. The
  // server computes the same on save (server-config.schema.ts baseUrl).
  const form = document.querySelector('form[data-link-preview]');
  if (form) {
    const out = document.getElementById('link-preview');
    const why = document.getElementById('link-reason');
    const value = (name) => {
      const el = form.elements.namedItem(name);
      return el ? String(el.value).trim() : '';
    };
    const update = () => {
      const ssl = form.elements.namedItem('ssl').checked;
      const name = value('serverName').replace(/\.$/, '');
      const address = value('publicAddress').replace(/^\[(.*)\]$/, '$1');
      const port = Number(value('port'));
      const host = name || (address.indexOf(':') >= 0 ? `[${address}]` : address);
      if (!host) {
        out.textContent = text.noHost || '';
        why.textContent = text.noHostWhy || '';
        return;
      }
      const defaultPort = ssl ? 443 : 80;
      const portPart = port && port !== defaultPort ? `:${port}` : '';
      out.textContent = `${ssl ? 'https' : 'http'}://${host}${portPart}/token?\u2026`;
      why.textContent = [
        name ? text.byName : text.byAddress,
        ssl ? text.sslOn : text.sslOff,
        portPart ? (ssl ? text.portShownHttps : text.portShownHttp) : text.portOmitted,
      ].join(' ');
    };
    form.addEventListener('input', update);
    form.addEventListener('change', update);
  }
})();
