(() => {
  function show(status, text, ok) {
    if (!status) return;
    status.textContent = text;
    status.className = `copy-status ${ok ? 'ok' : 'fail'}`;
  }

  // Where the browser refuses or lacks the clipboard API, the link is left selected in its
  // read-only field, so Ctrl+C / Cmd+C (or the touch menu) copies it.
  function selectForManualCopy(input, status) {
    input.focus();
    input.select();
    input.setSelectionRange(0, input.value.length);
    show(
      status,
      'Copying is not allowed here: the link is selected, press Ctrl+C (Cmd+C on a Mac) to copy it.',
      false,
    );
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
          show(status, button.getAttribute('data-done') || 'Copied to the clipboard.', true);
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
        out.textContent = '(no address: set the server name or the public IP address)';
        why.textContent = 'Links need a host: a server name or the public IP address.';
        return;
      }
      const defaultPort = ssl ? 443 : 80;
      const portPart = port && port !== defaultPort ? `:${port}` : '';
      out.textContent = `${ssl ? 'https' : 'http'}://${host}${portPart}/token?\u2026`;
      why.textContent = name
        ? 'It uses the web server name, because one is set.'
        : 'It uses the public IP address, because the web server name is blank.';
      why.textContent += ssl
        ? ' SSL is on, so it starts with https.'
        : ' SSL is off, so it starts with http.';
      why.textContent += portPart
        ? ` The port is shown because it is not the default for ${ssl ? 'https' : 'http'}.`
        : ' The port is left out because it is the default.';
    };
    form.addEventListener('input', update);
    form.addEventListener('change', update);
  }
})();
