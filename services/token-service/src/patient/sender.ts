import type { PatientSender } from '@studylink/service-kit';
import type { ServerConfig } from '../server-config/server-config.schema.js';

/**
 * Who sent the link, from the setup; the study's own InstitutionName only while the setup names
 * none (the staff setup asks for it with a banner until it is set).
 * @example senderOf(config, study?.institution_name).institution
 */
export function senderOf(
  c: Pick<ServerConfig, 'institution' | 'department' | 'logoUrl' | 'contactPhone' | 'contactEmail'>,
  studyInstitution?: string | null,
): PatientSender {
  return {
    institution: c.institution || studyInstitution?.trim() || '',
    department: c.department,
    logoUrl: c.logoUrl,
    phone: c.contactPhone,
    email: c.contactEmail,
  };
}
