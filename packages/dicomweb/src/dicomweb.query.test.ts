import { describe, expect, it } from 'vitest';
import { DicomwebArgumentError } from './dicomweb.errors.js';
import { instanceQueryString, seriesQueryString, studyQueryString } from './dicomweb.query.js';

describe('QIDO-RS query strings', () => {
  it('joins UID lists with commas and repeats includefield without duplicates', () => {
    const query = studyQueryString({
      StudyInstanceUID: ['1.2.3', '4.5.6'],
      includefield: ['StudyDescription', '00081030', 'all'],
      fuzzymatching: true,
    });
    expect(query).toBe(
      'StudyInstanceUID=1.2.3%2C4.5.6' +
        '&includefield=StudyDescription&includefield=InstitutionName&includefield=ModalitiesInStudy' +
        '&includefield=NumberOfStudyRelatedSeries&includefield=NumberOfStudyRelatedInstances' +
        '&includefield=00081030&includefield=all&fuzzymatching=true',
    );
  });

  it('accepts every StudyDate range form and encodes the ? wildcard', () => {
    for (const date of ['20240131', '20240101-20240131', '20240101-', '-20240131']) {
      expect(studyQueryString({ StudyDate: date })).toContain(`StudyDate=${date}&`);
    }
    expect(studyQueryString({ PatientName: 'D?E' })).toContain('PatientName=D%3FE&');
  });

  it('rejects what a store should never see', () => {
    expect(() => studyQueryString({ StudyInstanceUID: [] })).toThrow(DicomwebArgumentError);
    expect(() => studyQueryString({ StudyInstanceUID: ['1.2', 'x'] })).toThrow(DicomwebArgumentError);
    expect(() => studyQueryString({ ModalitiesInStudy: 'CT&x=1' })).toThrow(DicomwebArgumentError);
    expect(() => studyQueryString({ PatientID: '' })).toThrow(DicomwebArgumentError);
    expect(() => studyQueryString({ PatientID: 'x'.repeat(257) })).toThrow(DicomwebArgumentError);
    expect(() => studyQueryString({ limit: 0 })).toThrow(DicomwebArgumentError);
    expect(() => studyQueryString({ offset: 1.5 })).toThrow(DicomwebArgumentError);
    expect(() => seriesQueryString({ SeriesNumber: -1 })).toThrow(DicomwebArgumentError);
    expect(() => instanceQueryString({ SOPClassUID: '1.2.840.10008.5.1.4.1.1.2/..' })).toThrow(
      DicomwebArgumentError,
    );
  });
});
