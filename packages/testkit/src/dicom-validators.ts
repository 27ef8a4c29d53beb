import { spawn } from 'node:child_process';

/**
 * Debian's python3 (where python3-pydicom lives); a python3 earlier on PATH (pyenv, a venv) may not
 * have pydicom. Override with `PYDICOM_PYTHON`.
 */
const PYTHON = process.env.PYDICOM_PYTHON ?? '/usr/bin/python3';

/** The header values of one file as pydicom decodes them (its own character-set handling). */
export interface PydicomHeader {
  transferSyntaxUid: string;
  /** (0002,0003) of the File Meta Information, '' when absent. */
  mediaStorageSopInstanceUid: string;
  specificCharacterSet: string;
  sopClassUid: string;
  sopInstanceUid: string;
  studyInstanceUid: string;
  seriesInstanceUid: string;
  /** str(PatientName): the component groups joined by `=`. */
  patientName: string;
  patientId: string;
  studyDate: string;
  studyTime: string;
  studyDescription: string;
  studyId: string;
  accessionNumber: string;
  modality: string;
  seriesNumber: number | null;
  instanceNumber: number | null;
}

const HEADER_SCRIPT = `
import json, sys
import pydicom
out = []
for path in sys.argv[1:]:
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        ts = str(ds.file_meta.TransferSyntaxUID)
    except Exception:
        out.append(None)
        continue
    def s(k):
        v = ds.data_element(k) if k in ds else None
        if v is None or v.value is None:
            return ''
        v = v.value
        if isinstance(v, (list, pydicom.multival.MultiValue)):
            return '\\\\'.join(str(x) for x in v)
        return str(v)
    def n(k):
        v = ds.data_element(k) if k in ds else None
        try:
            return int(v.value) if v is not None and v.value not in (None, '') else None
        except Exception:
            return None
    out.append(dict(
        transferSyntaxUid=ts,
        mediaStorageSopInstanceUid=str(ds.file_meta.get('MediaStorageSOPInstanceUID', '') or ''),
        specificCharacterSet=s('SpecificCharacterSet'),
        sopClassUid=s('SOPClassUID'), sopInstanceUid=s('SOPInstanceUID'),
        studyInstanceUid=s('StudyInstanceUID'), seriesInstanceUid=s('SeriesInstanceUID'),
        patientName=s('PatientName'), patientId=s('PatientID'), studyDate=s('StudyDate'),
        studyTime=s('StudyTime'), studyDescription=s('StudyDescription'), studyId=s('StudyID'),
        accessionNumber=s('AccessionNumber'), modality=s('Modality'),
        seriesNumber=n('SeriesNumber'), instanceNumber=n('InstanceNumber')))
print(json.dumps(out, ensure_ascii=False))
`;

/**
 * Reads files with pydicom and returns their header values, decoded as pydicom decodes them; `null` for
 * a file pydicom cannot read.
 */
export async function pydicomHeaders(paths: readonly string[]): Promise<(PydicomHeader | null)[]> {
  const r = await run(PYTHON, ['-c', HEADER_SCRIPT, ...paths]);
  if (r.code !== 0) throw new Error(`pydicom failed on ${paths.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout) as (PydicomHeader | null)[];
}

/** One record of a DICOMDIR as pydicom's FileSet sees it. */
export interface FileSetInstance {
  /** Path of the referenced file relative to the DICOMDIR's folder, `/`-separated. */
  path: string;
  recordType: string;
  sopInstanceUid: string;
  transferSyntaxUid: string;
  /** The referenced file's own (0002,0010), read by pydicom from the file. */
  fileTransferSyntaxUid: string;
  patientName: string;
  patientId: string;
  studyDescription: string;
  seriesInstanceUid: string;
}

const FILESET_SCRIPT = `
import json, os, sys
from pydicom.fileset import FileSet
fs = FileSet(sys.argv[1])
root = os.path.dirname(os.path.abspath(sys.argv[1]))
out = []
for inst in fs:
    node = inst.node
    study = node.parent.parent
    patient = study.parent
    ds = inst.load()
    out.append(dict(
        path=os.path.relpath(inst.path, root).replace(os.sep, '/'),
        recordType=node.record_type,
        sopInstanceUid=str(inst.ReferencedSOPInstanceUIDInFile),
        transferSyntaxUid=str(inst.ReferencedTransferSyntaxUIDInFile),
        fileTransferSyntaxUid=str(ds.file_meta.TransferSyntaxUID),
        patientName=str(patient._record.get('PatientName', '') and patient._record.PatientName),
        patientId=str(patient._record.get('PatientID', '')),
        studyDescription=str(study._record.get('StudyDescription', '') and study._record.StudyDescription),
        seriesInstanceUid=str(node.parent._record.SeriesInstanceUID)))
print(json.dumps(out, ensure_ascii=False))
`;

/** Opens a DICOMDIR with pydicom's FileSet, loads every referenced file and reports each record. */
export async function pydicomFileSet(dicomdirPath: string): Promise<FileSetInstance[]> {
  const r = await run(PYTHON, ['-c', FILESET_SCRIPT, dicomdirPath]);
  if (r.code !== 0) throw new Error(`pydicom FileSet could not read ${dicomdirPath}: ${r.stderr}`);
  return JSON.parse(r.stdout) as FileSetInstance[];
}

/**
 * Runs dicom3tools' dciodvfy (Debian dicom3tools) on a file; `errors` are its lines starting with
 * `Error`, which a valid file has none of (warnings are kept in `output`).
 */
export async function dciodvfy(path: string): Promise<{ errors: string[]; output: string }> {
  const r = await run('dciodvfy', [path]);
  const output = `${r.stdout}${r.stderr}`;
  return { errors: output.split('\n').filter((line) => line.startsWith('Error')), output };
}

function run(
  command: string,
  args: readonly string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
