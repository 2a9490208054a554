// Whose batch runs next, when a worker runs many moves at once (a layoff's
// hundred): at most `limit` batch statements at a time, and each free turn
// goes to the waiting batch whose move has the fewest leads left. So moves
// finish one after another, each wizard going on to its next step while the
// others still move (taking turns round the table would finish them all
// together at the very end, every wizard's next round trips queued behind
// the last batch), and a huge book never holds up small ones. Waiting
// counts in a batch's favour, `agingLeadsPerMs` leads per millisecond (a
// tenth or less of what one stream moves in that time, so a running move
// keeps its turns), so a huge book still gets its turn while small ones
// keep coming: a million leads' book within 500 s at most.

/** A turn's claim: how many leads its move still has to move. */
export interface TurnClaim {
  leadsLeft: number;
}

/** Leads of "left" one millisecond of waiting is worth. */
export const AGING_LEADS_PER_MS = 2;

interface Waiting {
  leadsLeft: number;
  since: number;
  start: () => void;
}

export function statementTurns(limit: number, agingLeadsPerMs = AGING_LEADS_PER_MS, now: () => number = Date.now) {
  let running = 0;
  const waiting: Waiting[] = [];
  const score = (w: Waiting, at: number) => w.leadsLeft - (at - w.since) * agingLeadsPerMs;

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

  /** Runs `work` when its turn comes; the turn is given back when it settles. */
  return async function take<T>(claim: TurnClaim, work: () => Promise<T> | T): Promise<T> {
    await new Promise<void>((start) => {
      waiting.push({ leadsLeft: claim.leadsLeft, since: now(), start });
      next();
    });
    try {
      return await work();
    } finally {
      running--;
      // Chosen once the caller has gone on: a move whose batch just ended queues its next one
      // first, and is weighed with the others rather than passed over for being a moment late.
      setImmediate(next);
    }
  };
}
