/**
 * Query / retrieve end to end, in Chromium against the real stack and a real Orthanc that
 * holds a CT study: create an empty project, add the PACS, open "Query / retrieve", search by
 * patient name, tick the study, Retrieve, watch the job end, and find its slices in the
 * image browser. Screenshots: test-output/e2e/pacs-query-*.png.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { shot, startSession, text, within, type Session } from './harness.ts';
import { startOrthanc, type RunningOrthanc } from '../fixtures/orthanc.ts';
import { ctSlice } from '../services/dicom-export/sources.ts';
import { sendFiles } from '../../electron/services/dicom-export/pacs.node.ts';
import { dicomLock } from '../../electron/services/dicom-export/export.service.ts';
import { findPython } from '../../electron/services/runtime/python-path.node.ts';

test('query the PACS, tick a study, retrieve it into the project', { timeout: 180_000 }, async () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'delineate-e2e-query-'));
  let s: Session | null = null;
  let orthanc: RunningOrthanc | null = null;
  try {
    orthanc = await startOrthanc({ config: { DicomModalities: { delineate: ['DELINEATE', '127.0.0.1', 11112] } } });
    const files = [0, 1, 2].map((i) => {
      const f = path.join(tmp, `ct${i}.dcm`);
      writeFileSync(f, ctSlice(i));
      return f;
    });
    const python = await findPython({ lock: dicomLock() });
    const sent = await sendFiles(python, { kind: 'dimse', aeTitle: orthanc.aeTitle, host: '127.0.0.1', port: orthanc.dicomPort, callingAeTitle: 'DELINEATE' }, files);
    assert.ok(sent.every((r) => r.ok), JSON.stringify(sent));

    s = await startSession();
    const { page } = s;
    await page.getByTestId('project-path').fill(path.join(tmp, 'project'));
    await page.getByTestId('project-name').fill('Retrieved');
    await page.getByTestId('project-create').click();
    await page.getByTestId('import-button').waitFor();

    await page.getByTestId('pacs').getByRole('button', { name: /PACS/ }).click();
    await page.getByTestId('pacs-add').click();
    await page.getByTestId('pacs-name').fill('Hospital PACS');
    await page.getByTestId('pacs-ae').fill(orthanc.aeTitle);
    await page.getByTestId('pacs-port').fill(String(orthanc.dicomPort));
    await page.getByTestId('pacs-save').click();
    await page.getByTestId('pacs-destination').waitFor();

    await page.getByTestId('pacs-query-open').click();
    await page.getByTestId('pacs-query').waitFor();
    await page.getByTestId('pacs-query-name').fill('export');
    await page.getByTestId('pacs-query-from').fill('2025-12-01');
    await page.getByTestId('pacs-query-search').click();
    await page.getByTestId('pacs-query-results').waitFor({ timeout: 30_000 });
    const rows = await page.getByTestId('pacs-query-study').allTextContents();
    assert.equal(rows.length, 1);
    assert.match(rows[0]!, /Export, Test.*EXP-001.*2026-01-01.*ACC-EXP.*CT.*1.*3/);
    assert.match((await text(page, 'pacs-query-summary')).replace(/\s+/g, ' '), /1 study · searched for PatientName = export\*, StudyDate = 20251201-/);
    await page.getByTestId('pacs-query-study').getByRole('checkbox').check();
    await shot(page, 'pacs-query-1-found');

    await page.getByTestId('pacs-query-retrieve').click();
    await within(60_000, 'retrieved', async () => (await page.getByTestId('pacs-query-job').getAttribute('data-state').catch(() => null)) === 'succeeded');
    assert.match(await text(page, 'pacs-query-job'), /Retrieved 1 study from Hospital PACS \(3 instances\): 3 imported, 0 already in the project, 0 failed/);
    await shot(page, 'pacs-query-2-retrieved');
    await page.getByTestId('pacs-query-close').click();
    await within(10_000, 'the series in the browser', async () => (await page.getByTestId('browser-row').filter({ hasText: '3 slices' }).count()) === 1);
    await shot(page, 'pacs-query-3-in-project');
    assert.deepEqual(s.problems, []);
  } finally {
    await s?.close();
    await orthanc?.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
});
