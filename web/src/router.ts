// Hash routing (`#/users/42`): the server only ever serves index.html, and a
// reload or a bookmark lands on the same screen. Each view gets an AbortSignal
// that fires when the admin navigates away, which stops its polling and
// pending requests.

export interface RouteContext {
  params: Record<string, string>;
  query: URLSearchParams;
  signal: AbortSignal;
}

export type View = (ctx: RouteContext) => HTMLElement | Promise<HTMLElement>;

interface Route {
  pattern: RegExp;
  keys: string[];
  view: View;
  name: string;
}

export interface Router {
  add(path: string, name: string, view: View): Router;
  start(): void;
  /** Re-run the current route (after sign-in or sign-out). */
  refresh(): void;
}

export function navigate(path: string): void {
  const target = `#${path}`;
  if (window.location.hash === target) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else window.location.hash = target;
}

export function currentPath(): string {
  const raw = window.location.hash.replace(/^#/, '');
  return raw.startsWith('/') ? raw : '/';
}

export function link(path: string): string {
  return `#${path}`;
}

/** A path segment decoded; one that does not decode (`%E0%A4%A`) as it stands: an id no user or wizard has, which its view says. */
function decoded(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

export function createRouter(
  mount: (content: HTMLElement | Promise<HTMLElement>, route: { name: string; path: string }) => void,
  fallback: string,
): Router {
  const routes: Route[] = [];
  let controller: AbortController | null = null;

  function resolve(): void {
    const full = currentPath();
    const [path = '/', search = ''] = full.split('?');
    for (const route of routes) {
      const match = route.pattern.exec(path);
      if (!match) continue;
      controller?.abort();
      controller = new AbortController();
      const params: Record<string, string> = {};
      route.keys.forEach((key, i) => {
        params[key] = decoded(match[i + 1] ?? '');
      });
      mount(route.view({ params, query: new URLSearchParams(search), signal: controller.signal }), {
        name: route.name,
        path,
      });
      return;
    }
    navigate(fallback);
  }

  const router: Router = {
    add(path, name, view) {
      const keys: string[] = [];
      const source = path.replace(/:([a-zA-Z]+)/g, (_, key: string) => {
        keys.push(key);
        return '([^/]+)';
      });
      routes.push({ pattern: new RegExp(`^${source}/?$`), keys, view, name });
      return router;
    },
    start() {
      window.addEventListener('hashchange', resolve);
      resolve();
    },
    refresh: resolve,
  };
  return router;
}
