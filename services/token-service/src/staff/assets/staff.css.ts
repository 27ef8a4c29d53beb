// The staff interface's only stylesheet, served same-origin at /staff/assets/staff.css (the CSP
// allows no inline styles). Colours meet WCAG AA contrast on their backgrounds.
export const STAFF_CSS = `
:root {
  color-scheme: light;
  --ink: #1b2430;
  --muted: #4f5b6a;
  --line: #d5dbe3;
  --soft: #eef2f7;
  --bg: #f4f6f9;
  --card: #ffffff;
  --accent: #0b5cad;
  --accent-dark: #084a8c;
  --accent-ink: #ffffff;
  --bar: #0f2a4a;
  --danger: #b42318;
  --danger-dark: #912018;
  --ok: #067647;
  --warn-bg: #fff7e0;
  --warn-line: #e9c46a;
  --focus: #0b5cad;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Noto Sans CJK JP", sans-serif;
  font-size: 16px;
  line-height: 1.5;
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; background: var(--bg); color: var(--ink); }
a { color: var(--accent); }
a:hover { color: var(--accent-dark); }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
main:focus { outline: none; }

.visually-hidden {
  position: absolute !important; width: 1px; height: 1px; padding: 0; margin: -1px;
  overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0;
}
.skip {
  position: absolute; left: 0.5rem; top: -3rem; z-index: 10;
  background: #ffffff; color: var(--ink); padding: 0.5rem 0.75rem; border-radius: 6px;
}
.skip:focus { top: 0.5rem; }

.wrap { max-width: 75rem; margin: 0 auto; padding: 0 1.25rem; }

/* Top bar */
.topbar { background: var(--bar); color: #ffffff; }
.topbar .wrap { display: flex; align-items: center; gap: 1.5rem; min-height: 3.5rem; flex-wrap: wrap; }
.topbar :focus-visible { outline-color: #ffd166; }
.brand { color: #ffffff; text-decoration: none; font-weight: 700; font-size: 1.1rem; letter-spacing: 0.01em; }
.brand:hover { color: #ffffff; }
.brand span { font-weight: 400; opacity: 0.85; margin-left: 0.35rem; }
.topbar nav { flex: 1; }
.topbar nav ul { list-style: none; margin: 0; padding: 0; display: flex; gap: 0.25rem; flex-wrap: wrap; }
.topbar nav a {
  display: block; color: #dbe6f3; text-decoration: none; padding: 0.45rem 0.75rem; border-radius: 6px;
}
.topbar nav a:hover { background: rgba(255, 255, 255, 0.1); color: #ffffff; }
.topbar nav a[aria-current="page"] { background: rgba(255, 255, 255, 0.16); color: #ffffff; font-weight: 600; }
.account { display: flex; align-items: center; gap: 0.75rem; margin: 0 0 0 auto; color: #dbe6f3; font-size: 0.95rem; }
@media (max-width: 64rem) {
  /* Brand and account on the first row, the menu on its own row below. */
  .topbar .wrap { padding-top: 0.4rem; padding-bottom: 0.4rem; row-gap: 0.25rem; }
  .topbar nav { order: 3; flex-basis: 100%; }
  .topbar nav ul { margin-left: -0.75rem; }
}
.account .who strong { color: #ffffff; }
.account button {
  background: transparent; color: #ffffff; border: 1px solid rgba(255, 255, 255, 0.5);
  border-radius: 6px; padding: 0.3rem 0.7rem; font: inherit; cursor: pointer;
}
.account button:hover { background: rgba(255, 255, 255, 0.12); }

/* Page */
main.wrap { padding-top: 1.5rem; padding-bottom: 3rem; }
h1 { font-size: 1.6rem; margin: 0 0 1rem; line-height: 1.25; }
h2 { font-size: 1.2rem; margin: 0 0 0.75rem; }
.lead { color: var(--muted); margin: -0.5rem 0 1.25rem; max-width: 48rem; }
.card {
  background: var(--card); border: 1px solid var(--line); border-radius: 10px;
  padding: 1.25rem 1.5rem; margin-bottom: 1.25rem;
}
.card > :last-child { margin-bottom: 0; }
.grid-2 { display: grid; grid-template-columns: minmax(0, 1.4fr) minmax(0, 1fr); gap: 1.25rem; align-items: start; }
@media (max-width: 60rem) { .grid-2 { grid-template-columns: minmax(0, 1fr); } }
.muted { color: var(--muted); }
.small { font-size: 0.9rem; }
.mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "Liberation Mono", monospace; }
.crumbs { margin: 0 0 0.5rem; font-size: 0.95rem; }
footer.wrap { color: var(--muted); font-size: 0.85rem; padding-bottom: 2rem; }

/* Forms */
form.stack > * + * { margin-top: 1rem; }
.fields { display: grid; grid-template-columns: repeat(auto-fill, minmax(14rem, 1fr)); gap: 1rem 1.25rem; }
.field { display: flex; flex-direction: column; gap: 0.3rem; min-width: 0; }
.field.wide { grid-column: 1 / -1; }
label, .label { font-weight: 600; font-size: 0.95rem; }
.hint { color: var(--muted); font-size: 0.875rem; margin: 0; }
input[type="text"], input[type="password"], input[type="number"], input[type="date"], input[type="url"],
input[type="search"], select, textarea {
  font: inherit; color: var(--ink); background: #ffffff; width: 100%;
  border: 1px solid #8a96a5; border-radius: 6px; padding: 0.5rem 0.65rem; min-height: 2.6rem;
}
input[readonly] { background: var(--soft); }
input:focus-visible, select:focus-visible, textarea:focus-visible { outline: 3px solid var(--focus); outline-offset: 1px; }
[aria-invalid="true"] { border-color: var(--danger); border-width: 2px; }
.error-text { color: var(--danger); font-size: 0.9rem; margin: 0; font-weight: 600; }
fieldset { border: 1px solid var(--line); border-radius: 8px; padding: 0.75rem 1rem 1rem; margin: 0; min-width: 0; }
legend { font-weight: 600; padding: 0 0.35rem; }
.choice { display: flex; align-items: flex-start; gap: 0.5rem; font-weight: 400; margin-top: 0.4rem; }
.choice input { width: 1.15rem; height: 1.15rem; margin: 0.2rem 0 0; flex: none; accent-color: var(--accent); }
.choice .hint { display: block; }
.actions { display: flex; gap: 0.75rem; flex-wrap: wrap; align-items: center; }
.inline { display: inline; margin: 0; }

/* Buttons */
.button, button.button {
  display: inline-flex; align-items: center; justify-content: center; gap: 0.4rem;
  font: inherit; font-weight: 600; line-height: 1.2; text-decoration: none; cursor: pointer;
  padding: 0.6rem 1.1rem; min-height: 2.6rem; border-radius: 6px;
  border: 1px solid var(--accent); background: var(--accent); color: var(--accent-ink);
}
.button:hover { background: var(--accent-dark); border-color: var(--accent-dark); color: var(--accent-ink); }
.button.secondary { background: #ffffff; color: var(--accent); }
.button.secondary:hover { background: var(--soft); color: var(--accent-dark); }
.button.danger { background: var(--danger); border-color: var(--danger); }
.button.danger:hover { background: var(--danger-dark); border-color: var(--danger-dark); }
.button.small { padding: 0.35rem 0.7rem; min-height: 2.1rem; font-size: 0.9rem; }

/* Messages */
.flash, .alert {
  border-radius: 8px; padding: 0.75rem 1rem; margin: 0 0 1.25rem; border: 1px solid;
}
.flash { background: #ecfdf3; border-color: #75e0a7; color: #054f31; }
.alert { background: #fef3f2; border-color: #fda29b; color: #7a271a; }
.alert h2 { font-size: 1rem; margin: 0 0 0.25rem; }
.alert ul { margin: 0.25rem 0 0; padding-left: 1.25rem; }
.alert a { color: #7a271a; }
.notice { background: var(--warn-bg); border: 1px solid var(--warn-line); border-radius: 8px; padding: 0.75rem 1rem; }

/* Tables */
/* position: relative keeps visually hidden cells inside the scrolling box. */
.table-scroll { position: relative; margin-bottom: 1.25rem; overflow-x: auto; border: 1px solid var(--line); border-radius: 10px; background: var(--card); }
table { border-collapse: collapse; width: 100%; font-size: 0.95rem; }
caption { text-align: left; padding: 0.75rem 1rem; font-weight: 600; }
th, td { text-align: left; padding: 0.6rem 0.8rem; border-bottom: 1px solid var(--line); vertical-align: top; }
thead th { background: var(--soft); font-size: 0.85rem; text-transform: uppercase; letter-spacing: 0.03em; color: #3a4654; white-space: nowrap; }
tbody tr:last-child td { border-bottom: 0; }
tbody tr:hover { background: #f8fafc; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.nowrap, th.nowrap { white-space: nowrap; }
td .sub { display: block; color: var(--muted); font-size: 0.85rem; }
.ua { min-width: 14rem; max-width: 24rem; overflow-wrap: anywhere; font-size: 0.8rem; }
.uid { min-width: 10rem; overflow-wrap: anywhere; font-size: 0.8rem; }
.empty { padding: 1.5rem 1rem; color: var(--muted); text-align: center; }

/* Status badges */
.badge {
  display: inline-block; border-radius: 999px; padding: 0.1rem 0.6rem; font-size: 0.8rem; font-weight: 600;
  border: 1px solid; white-space: nowrap;
}
.badge.ok { color: #054f31; background: #ecfdf3; border-color: #75e0a7; }
.badge.none { color: #3a4654; background: var(--soft); border-color: var(--line); }
.badge.warn { color: #7a2e0e; background: #fffaeb; border-color: #fec84b; }
.badge.bad { color: #7a271a; background: #fef3f2; border-color: #fda29b; }

/* Pager */
.pager { display: flex; justify-content: space-between; align-items: center; gap: 1rem; margin-top: 1rem; flex-wrap: wrap; }

/* Study link panel */
.link-box { display: flex; gap: 0.5rem; align-items: stretch; flex-wrap: wrap; }
.link-box input { flex: 1 1 20rem; font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 0.9rem; }
.copy-status { min-height: 1.5rem; margin: 0.5rem 0 0; font-weight: 600; }
.copy-status.ok { color: var(--ok); }
.copy-status.fail { color: #7a2e0e; }
.qr { width: 11rem; height: 11rem; display: block; border: 1px solid var(--line); border-radius: 6px; background: #ffffff; }
.qr-wrap { display: flex; gap: 1.25rem; align-items: center; flex-wrap: wrap; margin: 0.5rem 0 1.25rem; }
.qr-wrap > :not(svg) { flex: 1 1 12rem; }
hr { border: 0; border-top: 1px solid var(--line); margin: 1.25rem 0; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 0.35rem 1.25rem; margin: 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; font-weight: 600; overflow-wrap: anywhere; }
.preview { font-size: 1.05rem; background: var(--soft); border-radius: 6px; padding: 0.6rem 0.8rem; overflow-wrap: anywhere; }
.secret { font-size: 1rem; }

/* Sign-in */
.signin { max-width: 26rem; margin: 3rem auto; }
.signin h1 { font-size: 1.4rem; }

/* Handout (printable) */
.handout { max-width: 44rem; margin: 0 auto; background: #ffffff; padding: 2rem; }
.handout h1 { font-size: 1.7rem; }
.handout h2 { margin-top: 1.5rem; }
.handout .org { color: var(--muted); margin: 0 0 0.25rem; }
.handout .link { font-size: 1.05rem; overflow-wrap: anywhere; border: 1px dashed #8a96a5; padding: 0.75rem; border-radius: 6px; }
.handout .qr { width: 13rem; height: 13rem; }
.handout ol li { margin-bottom: 0.35rem; }
.print-bar { max-width: 44rem; margin: 1rem auto; display: flex; gap: 0.75rem; padding: 0 1.25rem; }

@media (max-width: 40rem) {
  .wrap { padding: 0 0.9rem; }
  .card { padding: 1rem; }
  h1 { font-size: 1.35rem; }
  .account .who { display: none; }
}

@media print {
  .topbar, .skip, .print-bar, footer.wrap, .no-print { display: none !important; }
  body { background: #ffffff; }
  .handout { padding: 0; max-width: none; }
  a { color: inherit; text-decoration: none; }
}
`;
