// Who the session's token acts as (`GET /v1/me`), asked once per token: the
// page offers only what this role may do (the server refuses the rest anyway).
import { mayUseDeletions } from '../../domain/rules';
import type { Me } from '../../domain/schemas';
import { api, session } from './api';

let asked: { token: string; me: Promise<Me> } | null = null;

export function whoAmI(signal?: AbortSignal): Promise<Me> {
  const token = session.token ?? '';
  if (asked?.token !== token) {
    const me = api.me(signal);
    asked = { token, me };
    // A failed answer is not kept: the next screen asks again.
    me.catch(() => {
      if (asked?.me === me) asked = null;
    });
  }
  return asked.me;
}

/** May the signed-in user open deletion wizards at all (list, preview, start, steps)? */
export function canDelete(me: Me): boolean {
  return mayUseDeletions(me.user.role);
}
