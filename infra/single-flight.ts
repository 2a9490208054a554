// One run at a time of something costly, shared by whoever asks meanwhile.

/**
 * Calls that come while a run is under way get that run's promise (its value
 * or its failure); the first call after it settles starts a new run. Nothing
 * is cached past the run itself: a caller that wants an answer to serve for
 * a while keeps it (api/health.ts does).
 */
export function singleFlight<T>(run: () => Promise<T>): () => Promise<T> {
  let running: Promise<T> | undefined;
  return () =>
    (running ??= Promise.resolve()
      .then(run) // a synchronous throw is this run's failure too
      .finally(() => {
        running = undefined;
      }));
}
