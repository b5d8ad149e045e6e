/** Label classes (name, colour, and the DICOM code they are exported with). */
import type { LabelClass } from '../../contract/api.js';
import type { Db } from './project-database.js';

export class LabelsRepository {
  constructor(private readonly db: Db) {}

  list(): LabelClass[] {
    return this.db.prepare('SELECT id, name, color, code FROM labels ORDER BY id').all() as LabelClass[];
  }

  get(id: number): LabelClass | undefined {
    return this.db.prepare('SELECT id, name, color, code FROM labels WHERE id = ?').get(id) as LabelClass | undefined;
  }

  findByName(name: string): LabelClass | undefined {
    return this.db.prepare('SELECT id, name, color, code FROM labels WHERE name = ?').get(name) as LabelClass | undefined;
  }

  insert(name: string, color: string, code: string | null = null): LabelClass {
    const r = this.db.prepare('INSERT INTO labels (name, color, code) VALUES (?, ?, ?)').run(name, color, code);
    return { id: Number(r.lastInsertRowid), name, color, code };
  }

  update(id: number, name: string, color: string, code: string | null): void {
    this.db.prepare('UPDATE labels SET name = ?, color = ?, code = ? WHERE id = ?').run(name, color, code, id);
  }

  delete(id: number): void {
    this.db.prepare('DELETE FROM labels WHERE id = ?').run(id);
  }

  maskCount(id: number): number {
    return (this.db.prepare('SELECT count(*) AS n FROM masks WHERE label_id = ?').get(id) as { n: number }).n;
  }
}
