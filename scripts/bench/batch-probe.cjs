// Preloaded into a worker process by the bench (`node --require` this file):
// records the server-side time of every lead-move batch, i.e. the `lock_ms`
// column each turn of a stream returns, an array of one figure per batch
// (activities/lead-move/sql.ts; `maxBatchMs` keeps their maximum), as
// "<epoch ms> <lock_ms> <leads>" lines (the batch's leads from the
// `batch_leads` column beside it, when there is one) appended to the file
// named by BENCH_BATCH_LOG. It wraps pg's Client#query and only reads
// results: nothing the worker does changes.
'use strict';
const fs = require('node:fs');
const file = process.env.BENCH_BATCH_LOG;
if (file) {
  const pg = require('pg');
  const record = (result) => {
    const fields = result && Array.isArray(result.fields) ? result.fields : null;
    if (!fields) return;
    const col = fields.findIndex((f) => f && f.name === 'lock_ms');
    if (col < 0) return;
    const leadsCol = fields.findIndex((f) => f && f.name === 'batch_leads');
    const lines = [];
    for (const row of result.rows || []) {
      // One batch's figure, or (a turn of several batches, procedure lead_move_run) an array of them.
      const value = Array.isArray(row) ? row[col] : row.lock_ms;
      const leads = leadsCol < 0 ? undefined : Array.isArray(row) ? row[leadsCol] : row.batch_leads;
      const values = Array.isArray(value) ? value : [value];
      values.forEach((one, i) => {
        const v = Number(one);
        const l = Array.isArray(leads) ? leads[i] : leads;
        const n = l === undefined || l === null ? NaN : Number(l);
        if (Number.isFinite(v)) lines.push(`${Date.now()} ${v}${Number.isInteger(n) && n >= 0 ? ` ${n}` : ''}\n`);
      });
    }
    if (lines.length) fs.appendFileSync(file, lines.join(''));
  };
  const original = pg.Client.prototype.query;
  pg.Client.prototype.query = function query(...args) {
    const cb = typeof args[args.length - 1] === 'function' ? args.length - 1 : -1;
    if (cb >= 0) {
      const done = args[cb];
      args[cb] = function (err, result) {
        if (!err) record(result);
        return done.apply(this, arguments);
      };
      return original.apply(this, args);
    }
    const config = args[0];
    if (config && typeof config === 'object' && typeof config.callback === 'function') {
      const done = config.callback;
      config.callback = function (err, result) {
        if (!err) record(result);
        return done.apply(this, arguments);
      };
      return original.apply(this, args);
    }
    const out = original.apply(this, args);
    if (out && typeof out.then === 'function') {
      return out.then((result) => {
        record(result);
        return result;
      });
    }
    return out;
  };
  // Marks the wrapper, so a test can tell it is in place.
  pg.Client.prototype.query.benchProbe = true;
}
