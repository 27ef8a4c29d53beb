import type { DownloadRefusalCode, Grant } from '@studylink/contracts';
import type { ServerConfig } from '../server-config/server-config.schema.js';
import type { OpenedLink } from './link-access.js';

const REFUSAL_CODE: Record<NonNullable<OpenedLink['downloadRefusal']>, DownloadRefusalCode> = {
  view_only: 'download_not_allowed',
  limit_reached: 'download_limit_reached',
};

/**
 * The wire grant the export service receives (packages/contracts), built from the gate's answer and
 * nothing else: the one place a Grant is made.
 * @example ctx.body = toWireGrant(await links.open(token, who, { purpose: 'view' }), config, 'en');
 */
export function toWireGrant(opened: OpenedLink, config: ServerConfig, language: string): Grant {
  const { link, study, may } = opened;
  return {
    tokenId: link.tokenId,
    studyInstanceUid: link.studyInstanceUid,
    zipContent: config.zipContent,
    institution: config.institution || study?.institution_name || '',
    viewerUrl: config.viewerUrl,
    language,
    verification: link.verification,
    verified: opened.verified,
    allowDownload: may.download,
    may: {
      viewFrames: may.viewFrames,
      viewFiles: may.viewFiles,
      download: may.download,
      share: may.share,
      report: may.report,
    },
    pushedReport: may.report ? opened.pushedReport : null,
    downloadRefusal: opened.downloadRefusal ? REFUSAL_CODE[opened.downloadRefusal] : null,
    downloadsRemaining: opened.downloadsRemaining,
    downloadId: opened.downloadId,
    zipLayoutId: opened.zipLayoutId,
    resume: opened.resume,
    study: {
      patientName: study?.patient_name ?? '',
      studyDate: study?.study_date ?? '',
      description: study?.description ?? '',
      modalities: study?.modalities ?? [],
    },
  };
}
