import type { StudyRow } from '../db/tables.js';
import type { OpenedLink } from '../link-access/link-access.js';
import type { ServerConfig } from '../server-config/server-config.schema.js';

/**
 * Whether this opened link may show the study's reports. The link gate's own rule (a link's
 * `includeReport`, issue 20) is being wired by another change; until it is, the setup's
 * `reportsOnPage` decides for every verified link. The one place the page, viewer and grant ask.
 * @example if (mayShowReport(opened, config)) ...
 */
export function mayShowReport(opened: OpenedLink, config: Pick<ServerConfig, 'reportsOnPage'>): boolean {
  return opened.verified && opened.may.viewFrames && config.reportsOnPage;
}

/**
 * Whether the study holds a report, from the page's copy of its details (never waiting on the store):
 * an SR or a document (DOC, OT for some PDF writers) among its modalities.
 */
export function studyHasReport(study: Pick<StudyRow, 'modalities'> | undefined): boolean {
  return (study?.modalities ?? []).some((m) => m === 'SR' || m === 'DOC');
}
