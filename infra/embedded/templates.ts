// Opening PGlite's files, fast. Invariants:
//   - A new cluster (a new data folder, or any in-memory database) starts from
//     a blank cluster made once by PGlite's initdb and cached as a tarball in
//     the system temp folder, keyed by the PGlite version: initdb takes
//     seconds, loading the tarball under one.
//   - A tarball that does not load is deleted and the cluster is made by
//     initdb; a folder that already holds a cluster (PG_VERSION) is opened as is.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import type { Log } from '../logger';

const PGLITE_VERSION: string = (() => {
  try {
    // The package does not export ./package.json: find it above its entry point.
    let dir = path.dirname(require.resolve('@electric-sql/pglite'));
    while (!fs.existsSync(path.join(dir, 'package.json'))) dir = path.dirname(dir);
    return (JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
})();

const templatePath = () => path.join(os.tmpdir(), `crm-offboarding-pglite-${PGLITE_VERSION}-blank.tar.gz`);

async function blankClusterTemplate(log: Log): Promise<Blob | undefined> {
  const file = templatePath();
  try {
    if (fs.existsSync(file)) return new Blob([fs.readFileSync(file)]);
    const fresh = await PGlite.create();
    try {
      const blob = await fresh.dumpDataDir('gzip');
      const tmp = `${file}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, Buffer.from(await blob.arrayBuffer()));
      fs.renameSync(tmp, file);
      return blob;
    } finally {
      await fresh.close();
    }
  } catch (err) {
    log(`embedded database: no blank-cluster template (${(err as Error).message}); running initdb`);
    return undefined;
  }
}

/** PGlite on the files of `dataDir` (created if new), or in memory when undefined. */
export async function openPglite(dataDir: string | undefined, log: Log): Promise<PGlite> {
  const isNew = !dataDir || !fs.existsSync(path.join(dataDir, 'PG_VERSION'));
  if (dataDir) fs.mkdirSync(dataDir, { recursive: true });
  if (isNew) {
    const template = await blankClusterTemplate(log);
    if (template) {
      try {
        return await PGlite.create({ ...(dataDir ? { dataDir } : {}), loadDataDir: template });
      } catch (err) {
        log(`embedded database: the blank-cluster template did not load (${(err as Error).message}); running initdb`, 'warn');
        fs.rmSync(templatePath(), { force: true });
        if (dataDir) {
          fs.rmSync(dataDir, { recursive: true, force: true });
          fs.mkdirSync(dataDir, { recursive: true });
        }
      }
    }
  }
  return PGlite.create(dataDir ? { dataDir } : {});
}
