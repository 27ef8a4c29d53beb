import { describe, expect, it } from 'vitest';
import {
  type DicomJsonObject,
  dicomNumber,
  dicomPersonName,
  dicomPersonNameGroups,
  dicomString,
  dicomStrings,
  Tag,
} from './dicom-json.helpers.js';

// Shaped like an Orthanc QIDO-RS study answer, with the variations other stores produce.
const study: DicomJsonObject = {
  [Tag.StudyInstanceUID]: { vr: 'UI', Value: ['1.2.3'] },
  [Tag.PatientName]: { vr: 'PN', Value: [{ Alphabetic: 'DOE^JANE', Ideographic: '山田^太郎' }] },
  [Tag.ModalitiesInStudy]: { vr: 'CS', Value: ['CT', null, 'SR'] },
  [Tag.NumberOfStudyRelatedInstances]: { vr: 'IS', Value: [120] },
  [Tag.NumberOfStudyRelatedSeries]: { vr: 'IS', Value: [' 3 '] },
  [Tag.StudyDescription]: { vr: 'LO' },
  [Tag.SeriesNumber]: { vr: 'IS', Value: ['abc'] },
  [Tag.ReferringPhysicianName]: { vr: 'PN', Value: [{}] },
  '0008103e': { vr: 'LO', Value: ['lower-case key'] },
};

describe('DICOM JSON helpers', () => {
  it('reads the first value as a string', () => {
    expect(dicomString(study, Tag.StudyInstanceUID)).toBe('1.2.3');
    expect(dicomString(study, Tag.NumberOfStudyRelatedInstances)).toBe('120');
    expect(dicomString(study, Tag.StudyDescription)).toBe('');
    expect(dicomString(study, Tag.AccessionNumber)).toBe('');
    expect(dicomString(undefined, Tag.AccessionNumber)).toBe('');
  });

  it('matches tags case-insensitively', () => {
    expect(dicomString({ '0008103E': { vr: 'LO', Value: ['upper'] } }, '0008103e')).toBe('upper');
  });

  it('reads all values, empty ones as empty strings', () => {
    expect(dicomStrings(study, Tag.ModalitiesInStudy)).toEqual(['CT', '', 'SR']);
    expect(dicomStrings(study, Tag.StudyDescription)).toEqual([]);
  });

  it('reads numbers given as numbers or numeric strings', () => {
    expect(dicomNumber(study, Tag.NumberOfStudyRelatedInstances)).toBe(120);
    expect(dicomNumber(study, Tag.NumberOfStudyRelatedSeries)).toBe(3);
    expect(dicomNumber(study, Tag.SeriesNumber)).toBeUndefined();
    expect(dicomNumber(study, Tag.InstanceNumber)).toBeUndefined();
  });

  it('reads the Alphabetic group of a person name', () => {
    expect(dicomPersonName(study, Tag.PatientName)).toBe('DOE^JANE');
    expect(dicomPersonName(study, Tag.ReferringPhysicianName)).toBe('');
    expect(dicomPersonName(study, Tag.InstitutionName)).toBe('');
    expect(dicomPersonName({ [Tag.PatientName]: { vr: 'PN', Value: ['PLAIN^NAME'] } }, Tag.PatientName)).toBe(
      'PLAIN^NAME',
    );
  });

  it('exposes the tags the product reads', () => {
    expect(Tag).toMatchObject({
      StudyInstanceUID: '0020000D',
      SOPClassUID: '00080016',
      PatientName: '00100010',
      NumberOfSeriesRelatedInstances: '00201209',
      TransferSyntaxUID: '00020010',
    });
    for (const tag of Object.values(Tag)) expect(tag).toMatch(/^[0-9A-F]{8}$/);
  });
});

describe('dicomPersonNameGroups', () => {
  it('joins the component groups and drops empty trailing ones', () => {
    const obj = {
      '00100010': {
        vr: 'PN',
        Value: [{ Alphabetic: 'Yamada^Tarou', Ideographic: '山田^太郎', Phonetic: '' }],
      },
    };
    expect(dicomPersonNameGroups(obj, '00100010')).toBe('Yamada^Tarou=山田^太郎');
    expect(
      dicomPersonNameGroups({ '00100010': { vr: 'PN', Value: [{ Ideographic: '山田' }] } }, '00100010'),
    ).toBe('=山田');
    expect(dicomPersonNameGroups({}, '00100010')).toBe('');
  });
});
