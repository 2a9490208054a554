// Paces a lead move on purpose, so a test can see it mid-way whatever the
// machine's speed: every turn of a move's streams (a call of lead_move_run,
// activities/lead-move/sql.ts; the paced worker runs one batch a turn) first
// passes a gate the test controls. Open, the
// gate changes nothing; held, batches wait until the test lets some through.
// Works the same on PostgreSQL and PGlite (nothing is locked in the database).
import type { Client } from '@temporalio/client';
import type { PrismaClient } from '../../generated/prisma/client';
import { eventually } from './wizard';

export class MovePace {
  private allowance = Number.POSITIVE_INFINITY;
  private waiters: (() => void)[] = [];
  /** Batches that have passed the gate. */
  passed = 0;
  /** Batches waiting at the gate now. */
  get waiting() {
    return this.waiters.length;
  }

  /** From now on no batch runs until `let` or `open`. */
  hold() {
    this.allowance = 0;
  }

  /** Lets `n` more batches through (then holds again). */
  let(n: number) {
    this.allowance += n;
    this.wake();
  }

  /** Lets every batch through from now on. */
  open() {
    this.allowance = Number.POSITIVE_INFINITY;
    this.wake();
  }

  async pass(): Promise<void> {
    while (this.allowance <= 0) await new Promise<void>((resolve) => this.waiters.push(resolve));
    this.allowance -= 1;
    this.passed += 1;
  }

  private wake() {
    for (const w of this.waiters.splice(0)) w();
  }

  /** `db` whose lead-move batch statements first pass this gate; everything else goes straight through. */
  gate(db: PrismaClient): PrismaClient {
    return new Proxy(db, {
      get: (target, prop) => {
        const value = Reflect.get(target, prop, target) as unknown;
        if (prop === '$queryRaw') {
          return async (strings: TemplateStringsArray, ...values: unknown[]) => {
            const sql = Array.isArray(strings) ? strings.join('?') : '';
            if (isBatch(sql)) await this.pass();
            return target.$queryRaw(strings, ...values);
          };
        }
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
  }
}

/**
 * With `pace` held and a lead step just submitted: the move's first slice
 * waits at the gate past its budget, then each of its streams runs one batch
 * and it reports; resolves once the next slice is scheduled. The wizard is
 * then mid-move, whatever the machine's speed.
 */
export async function untilMidMove(pace: MovePace, temporal: Client, workflowId: string): Promise<void> {
  await eventually(async () => (pace.waiting > 0 ? true : undefined));
  await new Promise((r) => setTimeout(r, 2_500)); // past the first slice's budget (2 s)
  pace.let(2);
  await eventually(async () => {
    const events = (await temporal.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
    // Slices run one after another: a second scheduled means the first has reported.
    const slices = events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'moveLeadsSlice').length;
    return slices >= 2 ? true : undefined;
  });
}

/** A turn of a move's stream: the call that runs its batches. */
function isBatch(sql: string) {
  return /CALL lead_move_run/.test(sql);
}
