// The page's only way to the server: api.md's v1 routes, same origin, with the
// session's bearer token. Every refusal arrives as an ApiError carrying the
// server's problem+json, so views can say in words what went wrong.
import type {
  AuditEvent,
  Deletion,
  DeletionStatus,
  Distribution,
  DeletionPreview,
  LeadsStepBody,
  Me,
  Problem,
  User,
  UserStatus,
} from '../../domain/schemas';
import type { Page } from '../../domain/pagination';

const TOKEN_KEY = 'crm-offboarding.token';

/** The API token, for this browser tab's session only. */
export const session = {
  get token(): string | null {
    try {
      return sessionStorage.getItem(TOKEN_KEY);
    } catch {
      return null;
    }
  },
  signIn(token: string): void {
    sessionStorage.setItem(TOKEN_KEY, token);
  },
  signOut(): void {
    sessionStorage.removeItem(TOKEN_KEY);
  },
};

export class ApiError extends Error {
  override name = 'ApiError';
  constructor(readonly problem: Problem) {
    super(problem.detail || problem.title);
  }
  get status(): number {
    return this.problem.status;
  }
}

/** Called when the server answers 401 to a signed-in request (token revoked or expired). */
let onUnauthorized: (() => void) | null = null;
export function setUnauthorizedHandler(handler: () => void): void {
  onUnauthorized = handler;
}

interface RequestOptions {
  body?: unknown;
  query?: Record<string, string | number | undefined>;
  signal?: AbortSignal;
  /** Use this token instead of the session's (sign-in checks a token before keeping it). */
  token?: string;
}

export interface Answer<T> {
  status: number;
  data: T;
}

export async function request<T>(method: string, path: string, options: RequestOptions = {}): Promise<Answer<T>> {
  const url = new URL(path, window.location.origin);
  for (const [key, value] of Object.entries(options.query ?? {})) {
    if (value !== undefined && value !== '') url.searchParams.set(key, String(value));
  }
  const token = options.token ?? session.token;
  const headers: Record<string, string> = { Accept: 'application/json, application/problem+json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (options.body !== undefined) headers['Content-Type'] = 'application/json';

  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: options.signal,
      credentials: 'same-origin',
    });
  } catch (err) {
    if (options.signal?.aborted) throw err;
    throw new ApiError({
      type: 'about:blank',
      title: 'Network error',
      status: 0,
      detail: 'Could not reach the server. Check your connection and try again.',
    });
  }

  const text = await response.text();
  let data: unknown = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    const problem = asProblem(data, response);
    if (response.status === 401 && options.token === undefined) onUnauthorized?.();
    throw new ApiError(problem);
  }
  return { status: response.status, data: data as T };
}

function asProblem(data: unknown, response: Response): Problem {
  if (data && typeof data === 'object' && 'status' in data && ('detail' in data || 'title' in data)) {
    const p = data as Partial<Problem>;
    return {
      type: p.type ?? 'about:blank',
      title: p.title ?? response.statusText,
      status: typeof p.status === 'number' ? p.status : response.status,
      detail: p.detail ?? p.title ?? response.statusText,
      errors: Array.isArray(p.errors) ? p.errors : undefined,
    };
  }
  return {
    type: 'about:blank',
    title: response.statusText || 'Error',
    status: response.status,
    detail: `The server answered ${response.status} ${response.statusText}.`.trim(),
  };
}

async function get<T>(path: string, query?: RequestOptions['query'], signal?: AbortSignal): Promise<T> {
  return (await request<T>('GET', path, { query, signal })).data;
}

async function post<T>(path: string, body: unknown): Promise<T> {
  return (await request<T>('POST', path, { body })).data;
}

/** Every item of a v1 list, following `nextCursor` with the largest page the contract allows. */
export async function listAll<T>(
  path: string,
  query: Record<string, string | undefined> = {},
  signal?: AbortSignal,
): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await get<Page<T>>(path, { ...query, limit: 500, cursor }, signal);
    items.push(...page.items);
    if (!page.nextCursor) return items;
    cursor = page.nextCursor;
  }
}

const enc = encodeURIComponent;

export const api = {
  /** Checks a token before the session keeps it. */
  async checkToken(token: string): Promise<Me> {
    return (await request<Me>('GET', '/v1/me', { token })).data;
  },
  /** Who the session's token acts as (its role decides what the page offers). */
  me(signal?: AbortSignal): Promise<Me> {
    return get<Me>('/v1/me', undefined, signal);
  },

  listUsers(status?: UserStatus, signal?: AbortSignal): Promise<User[]> {
    return listAll<User>('/v1/users', { status }, signal);
  },
  getUser(id: string, signal?: AbortSignal): Promise<User> {
    return get<User>(`/v1/users/${enc(id)}`, undefined, signal);
  },
  async leadCount(ownerId: string, signal?: AbortSignal): Promise<number> {
    return (await get<{ count: number }>('/v1/leads/count', { ownerId }, signal)).count;
  },

  /** What deleting the user would involve, and why it would be refused now; changes nothing. */
  deletionPreview(userId: string, signal?: AbortSignal): Promise<DeletionPreview> {
    return get<DeletionPreview>(`/v1/users/${enc(userId)}/deletion-preview`, undefined, signal);
  },
  /** Opens the wizard, or answers the one already open (`created: false`). */
  async startDeletion(userId: string, reason?: string): Promise<{ deletion: Deletion; created: boolean }> {
    const answer = await request<Deletion>('POST', `/v1/users/${enc(userId)}/deletion`, {
      body: reason ? { reason } : {},
    });
    return { deletion: answer.data, created: answer.status === 201 };
  },
  listDeletions(status?: DeletionStatus, signal?: AbortSignal): Promise<Deletion[]> {
    return listAll<Deletion>('/v1/deletions', { status }, signal);
  },
  getDeletion(id: string, signal?: AbortSignal): Promise<Deletion> {
    return get<Deletion>(`/v1/deletions/${enc(id)}`, undefined, signal);
  },
  submitLeads(id: string, body: LeadsStepBody): Promise<Deletion> {
    return post<Deletion>(`/v1/deletions/${enc(id)}/leads`, body);
  },
  submitAutomations(id: string, overrides: { automationId: string; distribution: Distribution }[]): Promise<Deletion> {
    return post<Deletion>(`/v1/deletions/${enc(id)}/automations`, { overrides });
  },
  submitIntegrations(id: string, overrides: { integrationId: string; distribution: Distribution }[]): Promise<Deletion> {
    return post<Deletion>(`/v1/deletions/${enc(id)}/integrations`, { overrides });
  },
  submitLabels(id: string, replacements: { labelId: string; replacementUserId: string | null }[]): Promise<Deletion> {
    return post<Deletion>(`/v1/deletions/${enc(id)}/labels`, { replacements });
  },
  confirm(id: string, confirmation: string): Promise<Deletion> {
    return post<Deletion>(`/v1/deletions/${enc(id)}/confirm`, { confirmation });
  },
  cancel(id: string, reason?: string): Promise<Deletion> {
    return post<Deletion>(`/v1/deletions/${enc(id)}/cancel`, reason ? { reason } : {});
  },
  /** Tries again the background work the database refused (the wizard shows `attention`). */
  retry(id: string): Promise<Deletion> {
    return post<Deletion>(`/v1/deletions/${enc(id)}/retry`, {});
  },
  audit(id: string, signal?: AbortSignal): Promise<AuditEvent[]> {
    return listAll<AuditEvent>(`/v1/deletions/${enc(id)}/audit`, {}, signal);
  },
};
