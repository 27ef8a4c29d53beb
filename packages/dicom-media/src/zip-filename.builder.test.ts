import { describe, expect, it } from 'vitest';
import { safeZipFilename } from './zip-filename.builder.js';

describe('safeZipFilename', () => {
  it('builds the name from the study date and modalities', () => {
    expect(safeZipFilename({ studyDate: '20210121', modalities: ['CT'] })).toBe('study-20210121-CT.zip');
    expect(safeZipFilename({ studyDate: '20210121', modalities: ['PT', 'CT', 'PT'] })).toBe(
      'study-20210121-PT-CT.zip',
    );
  });

  it('falls back to study.zip and leaves out what is missing or malformed', () => {
    expect(safeZipFilename({})).toBe('study.zip');
    expect(safeZipFilename({ studyDate: null, modalities: null })).toBe('study.zip');
    expect(safeZipFilename({ studyDate: '2021-01-21', modalities: [] })).toBe('study.zip');
    expect(safeZipFilename({ modalities: ['MR'] })).toBe('study-MR.zip');
  });

  it('never lets other characters through', () => {
    const hostile = ['../../etc', 'CT"; filename=evil.exe', 'x\r\nSet-Cookie: a', 'é', '', ' '];
    const name = safeZipFilename({ studyDate: '2021"0121', modalities: hostile });
    expect(name).toMatch(/^[A-Za-z0-9-]+\.zip$/);
    expect(name).toBe('study-ETC-CTFILENAMEEVILEX-XSETCOOKIEA.zip');
  });

  it('keeps the name short however many modalities there are', () => {
    const modalities = ['CT', 'MR', 'PT', 'US', 'XA', 'DX', 'SR'];
    expect(safeZipFilename({ studyDate: '20210121', modalities })).toBe('study-20210121-CT-MR-PT-US.zip');
  });
});
