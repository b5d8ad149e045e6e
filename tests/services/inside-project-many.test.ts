/**
 * insideProjectMany (the check of every row when a project opens) answers exactly as
 * insideProject does, path for path, links and missing files included.
 */
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { foldName, insideProject, insideProjectMany, missingUnderAnySpelling } from '../../electron/services/project-folder.node.js';
import { removeDir, tempDir } from './helpers.js';

test('the same answer as insideProject for plain files, links in and out, missing files and folders, escapes', () => {
  const root = tempDir('inside-many');
  try {
    const project = path.join(root, 'project');
    const outside = path.join(root, 'outside');
    mkdirSync(path.join(project, 'media', 'sub'), { recursive: true });
    mkdirSync(outside);
    writeFileSync(path.join(outside, 'secret.dcm'), 'x');
    writeFileSync(path.join(project, 'media', 'a.dcm'), 'x');
    writeFileSync(path.join(project, 'media', 'sub', 'b.dcm'), 'x');
    symlinkSync(path.join(outside, 'secret.dcm'), path.join(project, 'media', 'out.dcm'));
    symlinkSync(path.join(outside, 'secret.dcm'), path.join(project, 'media', 'secret.dcm'));
    symlinkSync(path.join(project, 'media', 'a.dcm'), path.join(project, 'media', 'in.dcm'));
    symlinkSync(outside, path.join(project, 'media', 'outdir'));
    symlinkSync(path.join(project, 'media', 'nowhere'), path.join(project, 'media', 'dangling.dcm'));
    const rels = [
      'media/a.dcm', 'media/sub/b.dcm', 'media/out.dcm', 'media/in.dcm', 'media/outdir/secret.dcm', 'media/outdir/missing.dcm',
      'media/dangling.dcm', 'media/missing.dcm', 'media/nofolder/x.dcm', '../outside/secret.dcm', path.join(outside, 'secret.dcm'),
      'media/../../outside/secret.dcm', '', 'media/a\0.dcm', 'media', 'media/sub',
      // other spellings of existing entries: the outside link in capitals (a case-insensitive disk would follow it), a file in another case
      'media/OUT.dcm', 'media/A.DCM', 'media/\u017Fecret.dcm', 'media/OUT~1.DCM',
    ];
    const many = insideProjectMany(project, rels);
    assert.deepEqual(many, rels.map((r) => insideProject(project, r)));
    assert.deepEqual(many.map((m) => m !== null), [true, true, false, true, false, false, false, true, true, false, false, false, false, false, true, true, true, true, true, true]);
  } finally {
    removeDir(root);
  }
});

test('a name is judged missing without an lstat only when no spelling a case-insensitive disk could resolve is listed', () => {
  // What this Linux disk cannot show: on a case-insensitive one these names open the listed entries.
  const folded = new Set(['secret.dcm', 'out.dcm', 'a.dcm', 'straße.dcm'].map(foldName));
  for (const name of ['SECRET.DCM', 'Secret.dcm', '\u017Fecret.dcm', 'STRASSE.DCM', 'OUT~1.DCM', 'A~1.DCM']) {
    assert.equal(missingUnderAnySpelling(name, folded), false, `${name}: only an lstat can tell`);
  }
  for (const name of ['missing.dcm', 'secret.dcm.bak', 'outs.dcm']) assert.equal(missingUnderAnySpelling(name, folded), true, `${name}: missing on any disk`);
});
