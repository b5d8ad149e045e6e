/** Label classes (name + colour). */
import type { LabelClass } from '../../contract/api.js';
import type { Db } from './project-database.js';

export class LabelsRepository {
  constructor(private readonly db: Db) {}

  list(): LabelClass[] {
    return this.db.prepare('SELECT id, name, color FROM labels ORDER BY id').all() as LabelClass[];
  }

  get(id: number): LabelClass | undefined {
    return this.db.prepare('SELECT id, name, color FROM labels WHERE id = ?').get(id) as LabelClass | undefined;
  }

  findByName(name: string): LabelClass | undefined {
    return this.db.prepare('SELECT id, name, color FROM labels WHERE name = ?').get(name) as LabelClass | undefined;
  }

  insert(name: string, color: string): LabelClass {
    const r = this.db.prepare('INSERT INTO labels (name, color) VALUES (?, ?)').run(name, color);
    return { id: Number(r.lastInsertRowid), name, color };
  }

  update(id: number, name: string, color: string): void {
    this.db.prepare('UPDATE labels SET name = ?, color = ? WHERE id = ?').run(name, color, id);
  }

  delete(id: number): void {
    this.db.prepare('DELETE FROM labels WHERE id = ?').run(id);
  }

  maskCount(id: number): number {
    return (this.db.prepare('SELECT count(*) AS n FROM masks WHERE label_id = ?').get(id) as { n: number }).n;
  }
}
