import type { Me, Role } from './session';

/** What a page gets; it returns its teardown, run when the user leaves it (OHIF: leave nothing behind). */
export interface PageContext {
  root: HTMLElement;
  params: Record<string, string>;
  query: URLSearchParams;
  me: Me;
  navigate: (path: string) => void;
}
export type Teardown = () => void;
export type Page = (ctx: PageContext) => Teardown | void;

export interface Route {
  pattern: RegExp;
  /** Names of the pattern's capture groups, in order. */
  keys: string[];
  roles: readonly Role[];
  title: string;
  page: Page;
}

export function route(path: string, roles: readonly Role[], title: string, page: Page): Route {
  const keys: string[] = [];
  const source = path.replace(/:([a-zA-Z]+)/g, (_m, key: string) => {
    keys.push(key);
    return '([^/]+)';
  });
  return { pattern: new RegExp(`^${source}/?$`), keys, roles, title, page };
}

export function match(routes: Route[], pathname: string): { route: Route; params: Record<string, string> } | null {
  for (const r of routes) {
    const m = r.pattern.exec(pathname);
    if (!m) continue;
    const params: Record<string, string> = {};
    r.keys.forEach((key, i) => {
      params[key] = decodeURIComponent(m[i + 1] ?? '');
    });
    return { route: r, params };
  }
  return null;
}
