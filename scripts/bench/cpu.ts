// CPU time by component, from /proc, to say what a phase was limited by: on 2
// cores, a component near 2.0 cores is the wall, one near 1.0 is single-threaded.
import fs from 'node:fs';

const TICKS_PER_S = 100; // USER_HZ on Linux

/** utime, stime, cutime, cstime of a process, in ticks; null when gone. */
function times(pid: number): { self: number; children: number; comm: string; ppid: number } | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may hold spaces: fields count from after it.
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const f = stat.slice(close + 2).split(' ');
    // f[0] is field 3 (state): utime is field 14 → f[11].
    return { self: Number(f[11]) + Number(f[12]), children: Number(f[13]) + Number(f[14]), comm, ppid: Number(f[1]) };
  } catch {
    return null;
  }
}

function allPids(): number[] {
  return fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number);
}

export interface Components {
  /** Named processes (their own time, plus reaped children's). */
  pids: Record<string, number | null | undefined>;
  /** Also count every `postgres` process on this machine (the server's backends, and reaped ones via the postmaster). */
  postgres: boolean;
}

/** Cumulative CPU seconds per component now. */
export function cpuSnapshot(c: Components): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, pid] of Object.entries(c.pids)) {
    const t = pid ? times(pid) : null;
    if (t) out[name] = (t.self + t.children) / TICKS_PER_S;
  }
  if (c.postgres) {
    let ticks = 0;
    for (const pid of allPids()) {
      const t = times(pid);
      if (t?.comm !== 'postgres') continue;
      // The postmaster (parent not postgres) also carries the time of backends that have exited.
      const parent = times(t.ppid);
      ticks += t.self + (parent?.comm === 'postgres' ? 0 : t.children);
    }
    out.postgres = ticks / TICKS_PER_S;
  }
  return out;
}

/** Cores used per component between two snapshots taken `wallMs` apart (2 decimals). */
export function coresUsed(before: Record<string, number>, after: Record<string, number>, wallMs: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, s] of Object.entries(after)) {
    if (before[name] === undefined || wallMs <= 0) continue;
    out[name] = Math.round(((s - before[name]) / (wallMs / 1000)) * 100) / 100;
  }
  return out;
}

/** The first process named `comm` among the descendants of `root` (e.g. the Temporal server under its launcher). */
export function descendantNamed(root: number, comm: string): number | null {
  const procs = allPids().flatMap((pid) => {
    const t = times(pid);
    return t ? [{ pid, ...t }] : [];
  });
  const queue = [root];
  while (queue.length) {
    const parent = queue.shift()!;
    for (const p of procs) {
      if (p.ppid !== parent) continue;
      if (p.comm === comm) return p.pid;
      queue.push(p.pid);
    }
  }
  return null;
}
