// The staff interface's only script, served same-origin at /staff/assets/staff.js (the CSP allows
// no inline scripts). Every page works without it; it adds copy-to-clipboard, printing, the live
// link preview on the setup page and the "never expires" switch.
export const STAFF_JS = `'use strict';
(function () {
  function show(status, text, ok) {
    if (!status) return;
    status.textContent = text;
    status.className = 'copy-status ' + (ok ? 'ok' : 'fail');
  }

  // Where the browser refuses or lacks the clipboard API, the link is left selected in its
  // read-only field, so Ctrl+C / Cmd+C (or the touch menu) copies it.
  function selectForManualCopy(input, status) {
    input.focus();
    input.select();
    input.setSelectionRange(0, input.value.length);
    show(status, 'Copying is not allowed here: the link is selected, press Ctrl+C (Cmd+C on a Mac) to copy it.', false);
  }

  function withTimeout(promise, ms) {
    return Promise.race([
      promise,
      new Promise(function (_, reject) {
        setTimeout(function () { reject(new Error('timeout')); }, ms);
      }),
    ]);
  }

  document.querySelectorAll('button[data-copy]').forEach(function (button) {
    button.hidden = false;
    button.addEventListener('click', function () {
      var input = document.getElementById(button.getAttribute('data-copy'));
      var status = document.getElementById(button.getAttribute('data-status'));
      if (!input) return;
      var clipboard = window.isSecureContext && navigator.clipboard;
      if (!clipboard || typeof clipboard.writeText !== 'function') {
        selectForManualCopy(input, status);
        return;
      }
      withTimeout(clipboard.writeText(input.value), 3000).then(
        function () { show(status, button.getAttribute('data-done') || 'Copied to the clipboard.', true); },
        function () { selectForManualCopy(input, status); },
      );
    });
  });

  document.querySelectorAll('input[data-select-all]').forEach(function (input) {
    input.addEventListener('focus', function () { input.select(); });
    input.addEventListener('click', function () { input.select(); });
  });

  document.querySelectorAll('button[data-print]').forEach(function (button) {
    button.hidden = false;
    button.addEventListener('click', function () { window.print(); });
  });

  document.querySelectorAll('input[data-disables]').forEach(function (box) {
    var target = document.getElementById(box.getAttribute('data-disables'));
    if (!target) return;
    var sync = function () { target.disabled = box.checked; };
    box.addEventListener('change', sync);
    sync();
  });

  // Setup page: the link a token would get, recomputed as the address fields change. The
  // server computes the same on save (server-config.schema.ts baseUrl).
  var form = document.querySelector('form[data-link-preview]');
  if (form) {
    var out = document.getElementById('link-preview');
    var why = document.getElementById('link-reason');
    var value = function (name) { var el = form.elements.namedItem(name); return el ? String(el.value).trim() : ''; };
    var update = function () {
      var ssl = form.elements.namedItem('ssl').checked;
      var name = value('serverName').replace(/\\.$/, '');
      var address = value('publicAddress').replace(/^\\[(.*)\\]$/, '$1');
      var port = Number(value('port'));
      var host = name || (address.indexOf(':') >= 0 ? '[' + address + ']' : address);
      if (!host) {
        out.textContent = '(no address: set the server name or the public IP address)';
        why.textContent = 'Links need a host: a server name or the public IP address.';
        return;
      }
      var defaultPort = ssl ? 443 : 80;
      var portPart = port && port !== defaultPort ? ':' + port : '';
      out.textContent = (ssl ? 'https' : 'http') + '://' + host + portPart + '/token?' + '\\u2026';
      why.textContent = name
        ? 'It uses the web server name, because one is set.'
        : 'It uses the public IP address, because the web server name is blank.';
      why.textContent += ssl ? ' SSL is on, so it starts with https.' : ' SSL is off, so it starts with http.';
      why.textContent += portPart ? ' The port is shown because it is not the default for ' + (ssl ? 'https' : 'http') + '.' : ' The port is left out because it is the default.';
    };
    form.addEventListener('input', update);
    form.addEventListener('change', update);
  }
})();
`;
