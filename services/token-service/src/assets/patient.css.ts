// The patient page's only stylesheet, served same-origin (the CSP allows no inline styles).
export const PATIENT_CSS = `
:root {
  color-scheme: light;
  --ink: #1b2430;
  --muted: #4f5b6a;
  --line: #d9dee5;
  --accent: #0b5cad;
  --accent-ink: #ffffff;
  --bg: #f3f5f8;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Noto Sans CJK JP", sans-serif;
  line-height: 1.5;
}
* {
  box-sizing: border-box;
}
body {
  margin: 0;
  background: var(--bg);
  color: var(--ink);
}
.card {
  max-width: 40rem;
  margin: 2rem auto;
  padding: 1.5rem 1.75rem;
  background: #fff;
  border: 1px solid var(--line);
  border-radius: 12px;
}
@media (max-width: 40rem) {
  .card {
    margin: 0;
    border-radius: 0;
    border-width: 0 0 1px;
    padding: 1.25rem 1rem;
  }
}
.org {
  margin: 0;
  color: var(--muted);
  font-size: 0.95rem;
}
h1 {
  margin: 0.25rem 0 1rem;
  font-size: 1.6rem;
}
h2 {
  font-size: 1.15rem;
  margin: 1.5rem 0 0.5rem;
}
.details {
  margin: 0;
  border-top: 1px solid var(--line);
}
.details .row {
  display: grid;
  grid-template-columns: 11rem 1fr;
  gap: 0.5rem;
  padding: 0.5rem 0;
  border-bottom: 1px solid var(--line);
}
@media (max-width: 30rem) {
  .details .row {
    grid-template-columns: 1fr;
    gap: 0;
  }
}
.details dt {
  color: var(--muted);
}
.details dd {
  margin: 0;
  font-weight: 600;
  overflow-wrap: anywhere;
}
.download {
  margin: 1.5rem 0;
}
.button {
  display: inline-block;
  padding: 0.8rem 1.4rem;
  background: var(--accent);
  color: var(--accent-ink);
  border-radius: 8px;
  text-decoration: none;
  font-weight: 700;
  font-size: 1.05rem;
}
.button:hover,
.button:focus-visible {
  background: #084a8c;
}
a:focus-visible {
  outline: 3px solid #f0b400;
  outline-offset: 2px;
}
a {
  color: var(--accent);
}
.notice {
  background: #fff7e0;
  border: 1px solid #f0d58a;
  padding: 0.75rem;
  border-radius: 8px;
}
footer {
  margin-top: 1.5rem;
  color: var(--muted);
  font-size: 0.9rem;
  border-top: 1px solid var(--line);
  padding-top: 0.75rem;
}
footer p {
  margin: 0.25rem 0;
}
code {
  font-size: 0.95em;
}
/* Link trust and languages (issue 12). Logical properties only, so that Arabic (dir="rtl") mirrors. */
ol {
  padding-inline-start: 1.5rem;
}
.refusal {
  margin-block: 1.5rem;
}
.allowance,
.hint {
  color: var(--muted);
  font-size: 0.95rem;
}
.error {
  background: #fdecec;
  border-color: #e5a3a3;
}
form.verify {
  display: flex;
  flex-direction: column;
  align-items: flex-start;
  gap: 0.5rem;
  margin-block: 1rem;
}
form.verify input {
  font: inherit;
  font-size: 1.1rem;
  padding: 0.6rem 0.75rem;
  min-inline-size: 12rem;
  border: 1px solid var(--muted);
  border-radius: 8px;
}
form.verify input:focus-visible,
form.lang select:focus-visible,
button:focus-visible {
  outline: 3px solid #f0b400;
  outline-offset: 2px;
}
button.button {
  border: 0;
  cursor: pointer;
  font-family: inherit;
}
.history table {
  inline-size: 100%;
  border-collapse: collapse;
  font-size: 0.9rem;
}
.history th,
.history td {
  text-align: start;
  padding-block: 0.35rem;
  padding-inline-end: 0.75rem;
  border-block-end: 1px solid var(--line);
  vertical-align: top;
}
.history .ip,
.ip {
  direction: ltr;
  unicode-bidi: isolate;
  overflow-wrap: anywhere;
}
form.lang {
  display: flex;
  flex-wrap: wrap;
  align-items: center;
  gap: 0.5rem;
  margin-block-start: 0.75rem;
}
form.lang select,
form.lang button {
  font: inherit;
  padding: 0.3rem 0.5rem;
}
`;
