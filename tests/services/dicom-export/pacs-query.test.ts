/**
 * Query/retrieve against a real PACS (issue 11): Orthanc from Debian's packages on loopback,
 * holding a CT study (two series) and another patient's MR study (an MR series and a
 * secondary capture). C-FIND and QIDO-RS find exactly the right study by patient name, ID,
 * accession, date range and modality; C-GET and WADO-RS retrieve studies into new projects
 * through the project's importer, every instance arriving pixel for pixel; a wrong called AE,
 * an AE the PACS does not know and an unknown study say so; a cancelled retrieve leaves the
 * project consistent and a second one completes it.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import dicomParser from 'dicom-parser';
import { ApiError, parseRequest } from '../../../electron/contract/api.js';
import type { PacsStudy } from '../../../electron/contract/pacs-query.js';
import type { JobInfo } from '../../../electron/contract/training.js';
import { dicomLock } from '../../../electron/services/dicom-export/export.service.js';
import { sendFiles } from '../../../electron/services/dicom-export/pacs.node.js';
import { createServices, type Services } from '../../../electron/services/index.js';
import { findPython } from '../../../electron/services/runtime/python-path.node.js';
import { CT_IMAGE_STORAGE, SECONDARY_CAPTURE, TS, int16PixelModule, le, writeDicom } from '../../fixtures/dicom-writer.js';
import { startOrthanc, type RunningOrthanc } from '../../fixtures/orthanc.js';
import { jobEnded } from '../helpers.js';
import { ROOT, ctSlice } from './sources.js';

const MR_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.4';
const STUDY_CT = `${ROOT}.1`;
const STUDY_MR = `${ROOT}.50`;
const STUDY_BIG = `${ROOT}.60`;
const BIG = 150;

/** The other patient's study: two MR slices (unsigned 16-bit) and a secondary capture (RGB). */
function mrStudy(): Buffer[] {
  const common = { StudyInstanceUID: STUDY_MR, PatientName: 'Other^Patient', PatientID: 'OTH-002', StudyDate: '20250615', StudyTime: '090000', AccessionNumber: 'ACC-OTH', StudyDescription: 'MR KNEE', StudyID: '7' };
  const mr = [0, 1].map((i) =>
    writeDicom(
      {
        ...common,
        SOPClassUID: MR_IMAGE_STORAGE,
        SOPInstanceUID: `${STUDY_MR}.1.${i + 1}`,
        SeriesInstanceUID: `${STUDY_MR}.1`,
        Modality: 'MR',
        SeriesNumber: 1,
        InstanceNumber: i + 1,
        ImagePositionPatient: [0, 0, i * 3],
        ImageOrientationPatient: [1, 0, 0, 0, 1, 0],
        PixelSpacing: [0.5, 0.5],
        Rows: 40,
        Columns: 56,
        SamplesPerPixel: 1,
        PhotometricInterpretation: 'MONOCHROME2',
        BitsAllocated: 16,
        BitsStored: 12,
        HighBit: 11,
        PixelRepresentation: 0,
      },
      { transferSyntax: TS.explicitLE, pixelFrames: [le(new Uint16Array(40 * 56).map((_, k) => (k * 11 + i * 97) % 4096))] },
    ),
  );
  const sc = writeDicom(
    {
      ...common,
      SOPClassUID: SECONDARY_CAPTURE,
      SOPInstanceUID: `${STUDY_MR}.2.1`,
      SeriesInstanceUID: `${STUDY_MR}.2`,
      Modality: 'OT',
      ConversionType: 'WSD',
      SeriesNumber: 2,
      InstanceNumber: 1,
      Rows: 24,
      Columns: 32,
      SamplesPerPixel: 3,
      PhotometricInterpretation: 'RGB',
      PlanarConfiguration: 0,
      BitsAllocated: 8,
      BitsStored: 8,
      HighBit: 7,
      PixelRepresentation: 0,
    },
    { transferSyntax: TS.implicitLE, pixelFrames: [new Uint8Array(24 * 32 * 3).map((_, k) => (k * 5) & 0xff)] },
  );
  return [...mr, sc];
}

/** A third patient's longer CT series, to cancel in the middle of. */
function bigSlice(i: number): Buffer {
  return writeDicom(
    {
      SOPClassUID: CT_IMAGE_STORAGE,
      SOPInstanceUID: `${STUDY_BIG}.1.${i + 1}`,
      StudyInstanceUID: STUDY_BIG,
      SeriesInstanceUID: `${STUDY_BIG}.1`,
      PatientName: 'Long^Series',
      PatientID: 'BIG-003',
      StudyDate: '20240301',
      Modality: 'CT',
      SeriesNumber: 1,
      InstanceNumber: i + 1,
      ImagePositionPatient: [0, 0, i],
      ImageOrientationPatient: [1, 0, 0, 0, 1, 0],
      PixelSpacing: [1, 1],
      ...int16PixelModule(128, 128, 0),
    },
    { transferSyntax: TS.explicitLE, pixelFrames: [le(new Int16Array(128 * 128).map((_, k) => ((k + i * 31) % 2000) - 1000))] },
  );
}

let orthanc: RunningOrthanc;
let s: Services;
let dir: string;
/** SOP Instance UID -> the source file's bytes, for every instance put in the PACS. */
const sources = new Map<string, Buffer>();
let dimseId: string;
let webId: string;

const sopUid = (bytes: Uint8Array): string => dicomParser.parseDicom(bytes).string('x00080018')!.trim();

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'pacs-query-'));
  // Retrieves use the system temp folder: a private one, to see that nothing stays there.
  mkdirSync(path.join(dir, 'tmp'));
  process.env.TMPDIR = path.join(dir, 'tmp');
  let python: string;
  // The PACS knows our AE (as a hospital's administrator registers a workstation): it may query and C-GET.
  [orthanc, python] = await Promise.all([
    startOrthanc({ config: { DicomModalities: { delineate: ['DELINEATE', '127.0.0.1', 11112] }, SyncStorageArea: false } }),
    findPython({ lock: dicomLock() }),
  ]);
  const files: string[] = [];
  const put = (b: Buffer) => {
    const f = path.join(dir, `src-${files.length}.dcm`);
    writeFileSync(f, b);
    files.push(f);
    sources.set(sopUid(b), b);
  };
  for (const i of [0, 1, 2]) put(ctSlice(i));
  for (const i of [0, 1]) put(ctSlice(i, 2));
  for (const b of mrStudy()) put(b);
  for (let i = 0; i < BIG; i++) put(bigSlice(i));
  const stored = await sendFiles(python, { kind: 'dimse', aeTitle: orthanc.aeTitle, host: '127.0.0.1', port: orthanc.dicomPort, callingAeTitle: 'DELINEATE', timeoutS: 20 }, files);
  assert.ok(stored.every((r) => r.ok), JSON.stringify(stored.filter((r) => !r.ok)));

  s = createServices({ user: 'Jane Doe', transport: 'browser', version: 'test', configDir: path.join(dir, 'config') });
  dimseId = (await s['pacs.saveDestination']({ name: 'Orthanc DIMSE', kind: 'dimse', aeTitle: orthanc.aeTitle, host: '127.0.0.1', port: orthanc.dicomPort, callingAeTitle: 'DELINEATE' })).id;
  webId = (await s['pacs.saveDestination']({ name: 'Orthanc web', kind: 'dicomweb', baseUrl: `http://127.0.0.1:${orthanc.httpPort}/dicom-web`, auth: { kind: 'basic', user: orthanc.user, password: orthanc.password } })).id;
});

after(async () => {
  await s?.close();
  await orthanc?.stop();
  rmSync(dir, { recursive: true, force: true });
});

type Filters = Omit<Parameters<Services['pacs.query']>[0], 'destinationId'>;
async function uidsFound(destinationId: string, f: Filters): Promise<string[]> {
  const r = await s['pacs.query'](parseRequest<'pacs.query'>('pacs.query', { destinationId, ...f }).params);
  return r.studies.map((x) => x.studyUid).sort();
}

for (const kind of ['C-FIND', 'QIDO-RS'] as const) {
  test(`search by ${kind}: patient name, ID, accession, date range and modality find exactly the right study`, { timeout: 60_000 }, async () => {
    const id = kind === 'C-FIND' ? dimseId : webId;
    const r = await s['pacs.query']({ destinationId: id, patientName: 'Export' });
    assert.deepEqual(r.match, { PatientName: 'Export*' }, 'a name without a wildcard is a prefix');
    assert.equal(r.studies.length, 1);
    const ct: PacsStudy = r.studies[0]!;
    assert.deepEqual(
      { ...ct, modalities: [...ct.modalities].sort() },
      { studyUid: STUDY_CT, patientName: 'Export^Test', patientId: 'EXP-001', patientBirthDate: '19700101', studyDate: '20260101', studyTime: '120000', description: '', accession: 'ACC-EXP', modalities: ['CT'], series: 2, instances: 5 },
    );
    const mr = (await s['pacs.query']({ destinationId: id, accession: 'ACC-OTH' })).studies;
    assert.equal(mr.length, 1);
    assert.deepEqual([mr[0]!.studyUid, mr[0]!.description, [...mr[0]!.modalities].sort(), mr[0]!.series, mr[0]!.instances], [STUDY_MR, 'MR KNEE', ['MR', 'OT'], 2, 3]);
    const cases: [Filters, string[]][] = [
      [{ patientName: 'oth*' }, [STUDY_MR]], // wildcard typed: as is; Orthanc ignores case in names
      [{ patientName: '*^Patient' }, [STUDY_MR]],
      [{ patientId: 'EXP-001' }, [STUDY_CT]],
      [{ patientId: 'EXP' }, []], // an ID is exact without a wildcard
      [{ patientId: 'EXP*' }, [STUDY_CT]],
      [{ dateFrom: '20250601', dateTo: '20250630' }, [STUDY_MR]],
      [{ dateFrom: '20251231' }, [STUDY_CT]],
      [{ modality: 'MR' }, [STUDY_MR]],
      [{ modality: 'CT', dateFrom: '20250101' }, [STUDY_CT]],
      [{ patientName: 'Export', modality: 'MR' }, []],
    ];
    for (const [f, want] of cases) assert.deepEqual(await uidsFound(id, f), want, `${kind} ${JSON.stringify(f)}`);
  });
}

test('the contract refuses bad searches and retrieves at the receiver', () => {
  const bad = (method: 'pacs.query' | 'pacs.retrieveStart', p: unknown, re: RegExp) =>
    assert.throws(() => parseRequest(method, p), (e: unknown) => e instanceof ApiError && e.code === 'bad_request' && re.test(e.message));
  bad('pacs.query', { destinationId: 'x' }, /at least one of patient name/);
  bad('pacs.query', { destinationId: 'x', patientName: 'Doe\\Jane' }, /patientName: no backslash/);
  bad('pacs.query', { destinationId: 'x', patientId: 'A\nB' }, /patientId: no backslash or control/);
  bad('pacs.query', { destinationId: 'x', dateFrom: '20260230' }, /dateFrom: a real calendar day/);
  bad('pacs.query', { destinationId: 'x', dateTo: '2026-01-01' }, /dateTo: a date written YYYYMMDD/);
  bad('pacs.query', { destinationId: 'x', dateFrom: '20260102', dateTo: '20260101' }, /first study date comes after the last/);
  bad('pacs.query', { destinationId: 'x', modality: 'ct' }, /modality: a modality code/);
  bad('pacs.query', { destinationId: 'x', accession: 'A'.repeat(17) }, /accession/);
  bad('pacs.query', { destinationId: 'x', patientName: 'Doe', extra: 1 }, /Unrecognized key/);
  bad('pacs.retrieveStart', { destinationId: 'x', studyUids: [] }, /studyUids/);
  bad('pacs.retrieveStart', { destinationId: 'x', studyUids: ['1.2.x'] }, /a DICOM UID/);
  bad('pacs.retrieveStart', { destinationId: 'x', studyUids: ['1.2.3', '1.2.3'] }, /listed twice/);
  assert.doesNotThrow(() => parseRequest('pacs.query', { destinationId: 'x', patientName: 'Müller*', dateFrom: '20240229' }));
});

/** Every image of the open project: SOP Instance UID (read from its media file) -> image id. */
async function projectInstances(projectDir: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const img of await s['images.list']({})) {
    const d = await s['image.get']({ imageId: img.id });
    const bytes = readFileSync(path.join(projectDir, 'media', `${d.sha256}.dcm`));
    assert.equal(createHash('sha256').update(bytes).digest('hex'), d.sha256, 'the media file is whole');
    out.set(sopUid(bytes), img.id);
  }
  return out;
}

/** The decoded first frame equals the source file's pixel data, byte for byte. */
async function samePixels(imageId: number, source: Buffer): Promise<void> {
  const ds = dicomParser.parseDicom(source);
  const el = ds.elements.x7fe00010!;
  const frame = await s['image.pixels']({ imageId, frame: 0 });
  assert.deepEqual(Buffer.from(frame.data), source.subarray(el.dataOffset, el.dataOffset + el.length), `pixels of ${sopUid(source)}`);
}

async function retrieve(destinationId: string, studyUids: string[]): Promise<JobInfo> {
  const { jobId } = await s['pacs.retrieveStart']({ destinationId, studyUids });
  return jobEnded(s, jobId, 60_000, 25);
}

const leftovers = () => readdirSync(path.join(dir, 'tmp')).filter((f) => f.startsWith('delineate-retrieve-'));

for (const kind of ['C-GET', 'WADO-RS'] as const) {
  test(`retrieve by ${kind} into a new project: every instance, pixel for pixel; again, only duplicates`, { timeout: 60_000 }, async () => {
    const projectDir = path.join(dir, `proj-${kind}`);
    await s['project.create']({ path: projectDir, name: kind });
    const j = await retrieve(kind === 'C-GET' ? dimseId : webId, [STUDY_CT, STUDY_MR]);
    assert.equal(j.state, 'succeeded', j.error?.message);
    assert.equal(j.kind, 'import');
    assert.deepEqual([j.step, j.steps], [8, 8], 'progress counts instances');
    assert.match(j.detail, /Retrieved 2 studies from Orthanc (DIMSE|web) \(8 instances\): 8 imported, 0 already in the project, 0 failed/);
    assert.equal(j.importReport!.imported.length, 8);
    const got = await projectInstances(projectDir);
    const want = [...sources.keys()].filter((u) => !u.startsWith(`${STUDY_BIG}.`));
    assert.deepEqual([...got.keys()].sort(), want.sort(), 'the SOP Instance UIDs are the source study\'s');
    for (const [uid, imageId] of got) await samePixels(imageId, sources.get(uid)!);
    const images = await s['images.list']({});
    assert.deepEqual(images.filter((i) => i.studyUid === STUDY_CT).map((i) => i.seriesIndex).sort(), [0, 0, 1, 1, 2], 'the series are ordered as a folder import orders them');
    assert.deepEqual(leftovers(), [], 'the temporary folder is gone');
    // Retrieved again: the importer's SHA-256 check finds every file already there.
    const again = await retrieve(kind === 'C-GET' ? dimseId : webId, [STUDY_MR]);
    assert.equal(again.state, 'succeeded', again.error?.message);
    assert.deepEqual([again.importReport!.imported.length, again.importReport!.duplicates.length], [0, 3]);
    assert.equal((await s['images.list']({})).length, 8);
  });
}

test('a wrong called AE, an AE the PACS does not know and an unknown study are named with the reason', { timeout: 60_000 }, async () => {
  await s['project.create']({ path: path.join(dir, 'proj-faults'), name: 'faults' });
  const wrongAe = (await s['pacs.saveDestination']({ name: 'Wrong AE', kind: 'dimse', aeTitle: 'NOT_ORTHANC', host: '127.0.0.1', port: orthanc.dicomPort, callingAeTitle: 'DELINEATE' })).id;
  await assert.rejects(async () => s['pacs.query']({ destinationId: wrongAe, patientName: 'Export' }), /Searching Wrong AE failed: NOT_ORTHANC@127\.0\.0\.1:\d+ rejected the association: its AE title \(called AE title\) is not recognised$/);
  const j = await retrieve(wrongAe, [STUDY_CT]);
  assert.equal(j.state, 'failed');
  assert.match(j.error!.message, /^Retrieving from Wrong AE failed: NOT_ORTHANC@127\.0\.0\.1:\d+ rejected the association: its AE title \(called AE title\) is not recognised$/);

  const stranger = (await s['pacs.saveDestination']({ name: 'Stranger', kind: 'dimse', aeTitle: orthanc.aeTitle, host: '127.0.0.1', port: orthanc.dicomPort, callingAeTitle: 'STRANGER' })).id;
  await assert.rejects(async () => s['pacs.query']({ destinationId: stranger, patientName: 'Export' }), /Searching Stranger failed: ORTHANC@127\.0\.0\.1:\d+ aborted the association during the search: it may not let STRANGER query \(its administrator can allow this AE title\)/);

  for (const id of [dimseId, webId]) {
    const unknown = await retrieve(id, [STUDY_MR, '1.2.3.4.5']);
    assert.equal(unknown.state, 'failed');
    assert.match(unknown.error!.message, /^Could not retrieve study 1\.2\.3\.4\.5 from Orthanc (DIMSE|web): (ORTHANC@127\.0\.0\.1:\d+|http:\/\/127\.0\.0\.1:\d+\/dicom-web) has no study 1\.2\.3\.4\.5 \(1 other study arrived: \d imported, \d already in the project, 0 failed\)$/);
    assert.equal(unknown.importReport!.imported.length + unknown.importReport!.duplicates.length, 3, 'the study that exists arrived');
  }
  assert.deepEqual(leftovers(), []);
});

test('cancelling a retrieve leaves the project consistent; retrieving again completes it', { timeout: 60_000 }, async () => {
  const projectDir = path.join(dir, 'proj-cancel');
  await s['project.create']({ path: projectDir, name: 'cancel' });
  const { jobId } = await s['pacs.retrieveStart']({ destinationId: dimseId, studyUids: [STUDY_MR, STUDY_BIG] });
  // Cancel once the long study has started to arrive (the first is in by then).
  for (;;) {
    const j = await s['jobs.get']({ jobId });
    if (j.state !== 'running') break;
    if ((j.step ?? 0) > 3 + 5) {
      await s['jobs.cancel']({ jobId });
      break;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  const j = await jobEnded(s, jobId, 60_000, 25);
  assert.equal(j.state, 'cancelled', j.detail);
  assert.ok((j.step ?? 0) < 3 + BIG, `stopped before the end (${j.step} of ${j.steps})`);
  // Consistent: every row's media file is whole, every media file has its row, nothing is left in the temp folder.
  const got = await projectInstances(projectDir);
  assert.deepEqual(readdirSync(path.join(projectDir, 'media')).sort(), (await Promise.all([...got.values()].map(async (id) => `${(await s['image.get']({ imageId: id })).sha256}.dcm`))).sort());
  assert.deepEqual([...got.keys()].filter((u) => u.startsWith(`${STUDY_MR}.`)).length, 3, 'the study that had arrived is kept');
  assert.ok(got.size < 3 + BIG, 'the long study was not imported in full');
  assert.deepEqual(leftovers(), []);
  assert.equal(existsSync(path.join(projectDir, 'project.sqlite')), true);
  // Again, not cancelled: the rest arrives, what was there is a duplicate.
  const done = await retrieve(dimseId, [STUDY_BIG]);
  assert.equal(done.state, 'succeeded', done.error?.message);
  assert.equal((await s['images.list']({})).length, 3 + BIG);
  for (const [uid, imageId] of await projectInstances(projectDir)) if (uid.endsWith('.1.7') || uid.endsWith(`.1.${BIG}`)) await samePixels(imageId, sources.get(uid)!);
});
