// A wizard pushed by the server as it changes: GET /v1/deletions/{id}/events
// (Server-Sent Events) read with fetch and a stream reader. Not EventSource:
// it cannot send the Authorization header, and a token in the URL would end up
// in server and proxy logs. The stream sends the Deletion at once, then each
// change, with a heartbeat comment every 15 s, and ends after a final state
// (or after an `event: problem` when the token no longer may: skipped here).
// Anything else (a refusal, a dropped connection, silence) closes it; the
// caller then falls back to polling (view-wizard.ts).
import { session } from './api';
import type { Deletion } from '../../domain/schemas';

/** No byte at all (the server sends a heartbeat every 15 s) for this long: the stream is dead, even if its socket is not. */
const SILENCE_MS = 40_000;

export interface LiveHandlers {
  /** Each Deletion the server sends, in order. */
  onDeletion(d: Deletion): void;
  /** The stream is over (ended by the server, refused, or dropped). Not called after the caller's own stop. */
  onClose(): void;
}

/** The `data:` of one event block, when it is a message (or `deletion`, as servers before 2026-12-02 named it). */
function deletionOf(block: string): Deletion | null {
  let event = 'message';
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) continue; // a comment: the heartbeat
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  if ((event !== 'message' && event !== 'deletion') || data.length === 0) return null;
  try {
    return JSON.parse(data.join('\n')) as Deletion;
  } catch {
    return null;
  }
}

/** Follows the wizard `id`; returns the function that stops following. */
export function followDeletion(id: string, handlers: LiveHandlers): () => void {
  const abort = new AbortController();
  let over = false;
  let silence: ReturnType<typeof setTimeout> | undefined;

  const stop = () => {
    over = true;
    clearTimeout(silence);
    abort.abort();
  };
  const close = () => {
    if (over) return;
    stop();
    handlers.onClose();
  };
  const heard = () => {
    clearTimeout(silence);
    silence = setTimeout(close, SILENCE_MS);
  };

  void (async () => {
    try {
      heard();
      const token = session.token;
      const response = await fetch(`/v1/deletions/${encodeURIComponent(id)}/events`, {
        headers: { Accept: 'text/event-stream', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
        signal: abort.signal,
        credentials: 'same-origin',
        cache: 'no-store',
      });
      // A refusal (401, 404, ...): polling meets it again and says it in words.
      if (!response.ok || !response.body) return close();
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done || over) break;
        heard();
        // Lines may end in CRLF or CR too (a CR last in a chunk waits for the next one).
        buffer = (buffer + value).replace(/\r\n|\r(?!$)/g, '\n');
        let at: number;
        while ((at = buffer.indexOf('\n\n')) >= 0) {
          const d = deletionOf(buffer.slice(0, at));
          buffer = buffer.slice(at + 2);
          if (d && !over) handlers.onDeletion(d);
        }
      }
    } catch {
      // dropped, or stopped by the caller
    }
    close();
  })();

  return stop;
}
