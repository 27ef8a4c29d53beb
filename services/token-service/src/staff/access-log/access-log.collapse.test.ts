import { describe, expect, it } from 'vitest';
import { collapseRepeatedViews, VIEW_RUN_MS } from './access-log.collapse.js';

const at = (min: number) => new Date(Date.UTC(2026, 0, 1, 12, 0) - min * 60_000);
const row = (event: string, min: number, actor = 'staff:bob', study = '1.2.3') => ({
  event,
  outcome: 'ok',
  actor,
  study_instance_uid: study,
  at: at(min),
});

describe('collapsing repeated views in the access log', () => {
  it('one entry per run of views of a study by one actor; other events and actors stay apart', () => {
    const rows = [
      row('token_displayed', 0),
      row('page_view', 1, 'patient'),
      row('token_displayed', 2),
      row('token_displayed', 3, 'staff:alice'),
      row('token_displayed', 4),
      row('token_displayed', 5, 'staff:bob', '9.9.9'),
      row('token_revoked', 6),
      row('token_displayed', 7),
    ];
    const entries = collapseRepeatedViews(rows);
    expect(entries.map((e) => [e.row.event, e.row.actor, e.count])).toEqual([
      ['token_displayed', 'staff:bob', 4],
      ['page_view', 'patient', 1],
      ['token_displayed', 'staff:alice', 1],
      ['token_displayed', 'staff:bob', 1],
      ['token_revoked', 'staff:bob', 1],
    ]);
    expect(entries[0]?.oldest).toEqual(at(7));
  });

  it('a gap longer than the run starts a new entry', () => {
    const gap = VIEW_RUN_MS / 60_000 + 1;
    const entries = collapseRepeatedViews([row('token_displayed', 0), row('token_displayed', gap)]);
    expect(entries.map((e) => e.count)).toEqual([1, 1]);
  });
});
