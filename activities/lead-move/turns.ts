// Whose turn runs next, when a worker runs many moves at once (a layoff's
// hundred): at most `limit` turns at a time (a turn: a call of lead_move_run,
// batches run by the database for up to LEAD_MOVE_TURN_MS), and each free
// turn goes to the waiting stream whose move has the fewest leads left. So moves
// finish one after another, each wizard going on to its next step while the
// others still move (taking turns round the table would finish them all
// together at the very end, every wizard's next round trips queued behind
// the last turn), and a huge book never holds up small ones.
//
// A move's age counts in its favour, `agingLeadsPerMs` leads per
// millisecond since it first waited here (kept across its turns and
// slices), so a huge book that newer small ones keep overtaking gets its turn
// in the end, and then keeps it until done: behind moves that came after it,
// a million leads' book waits 500 s at most (behind those that came with it,
// as long as they take). The rate is far below what a move runs at (tens of
// leads per millisecond), so a move that gets its turns never ages past a
// smaller one.

/** A turn's claim. */
export interface TurnClaim {
  /** The move the batch belongs to: its streams and slices share one age. */
  move: string;
  /** How many leads the move still has to move. */
  leadsLeft: number;
  /** Aborted while waiting: the turn is given up unused and `take` answers null. */
  signal?: AbortSignal;
}

/** Leads of "left" one millisecond of a move's waiting is worth. */
export const AGING_LEADS_PER_MS = 2;

/** A move with nothing waiting, not seen for this long, is forgotten (cancelled, or its slice retried elsewhere). */
const FORGET_AFTER_MS = 10 * 60_000;

interface Waiting {
  move: string;
  leadsLeft: number;
  start: () => void;
}

export function statementTurns(limit: number, agingLeadsPerMs = AGING_LEADS_PER_MS, now: () => number = () => performance.now()) {
  let running = 0;
  const waiting: Waiting[] = [];
  /** When each move first waited, when it was last seen, and how many of its claims wait now. */
  const moves = new Map<string, { since: number; seen: number; waiting: number }>();
  const score = (w: Waiting, at: number) => w.leadsLeft - (at - (moves.get(w.move)?.since ?? at)) * agingLeadsPerMs;

  function next(): void {
    while (running < limit && waiting.length > 0) {
      const at = now();
      let best = 0;
      // Strictly lower wins: among equals, the one that came first.
      for (let i = 1; i < waiting.length; i++) if (score(waiting[i]!, at) < score(waiting[best]!, at)) best = i;
      const [turn] = waiting.splice(best, 1);
      running++;
      turn!.start();
    }
  }

  /** A claim of `move` starts (+1) or stops (-1) waiting. */
  function waits(move: string, change: 1 | -1): void {
    const at = now();
    const known = moves.get(move);
    if (known) {
      known.seen = at;
      known.waiting += change;
      return;
    }
    if (change < 0) return;
    moves.set(move, { since: at, seen: at, waiting: change });
    for (const [key, m] of moves) if (m.waiting === 0 && at - m.seen > FORGET_AFTER_MS) moves.delete(key);
  }

  return {
    /**
     * Runs `work` when its turn comes and gives the turn back when it
     * settles. A claim whose signal aborts while it waits gives its place up
     * (null, `work` never runs); one already aborted when it comes still waits
     * for its turn and runs.
     */
    async take<T>(claim: TurnClaim, work: () => Promise<T> | T): Promise<T | null> {
      waits(claim.move, 1);
      const started = await new Promise<boolean>((resolve) => {
        const entry: Waiting = { move: claim.move, leadsLeft: claim.leadsLeft, start: () => settle(true) };
        const withdraw = () => {
          const at = waiting.indexOf(entry);
          if (at >= 0) {
            waiting.splice(at, 1);
            settle(false);
          }
        };
        const signal = claim.signal?.aborted ? undefined : claim.signal;
        function settle(turn: boolean) {
          signal?.removeEventListener('abort', withdraw);
          waits(claim.move, -1);
          resolve(turn);
        }
        signal?.addEventListener('abort', withdraw, { once: true });
        waiting.push(entry);
        next();
      });
      if (!started) return null;
      try {
        return await work();
      } finally {
        running--;
        // Chosen once the caller has gone on: a move whose turn just ended queues its next one
        // first, and is weighed with the others rather than passed over for being a moment late.
        setImmediate(next);
      }
    },

    /** The move is done: its age is forgotten (kept while a claim of it still waits: a stale attempt's). */
    forget(move: string): void {
      if (!moves.get(move)?.waiting) moves.delete(move);
    },
  };
}
