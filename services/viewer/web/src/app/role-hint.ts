import type { Role } from './session';

const STORAGE_KEY = 'yunying.lastRole';

/**
 * The role this browser last signed in with: only the role (no name, no id), so that a study opened by its address
 * can start its first reads while `/api/auth/me` is still in flight (main.ts) instead of one round trip later.
 * Cleared on sign-out and when the session ends; replaced by what `/api/auth/me` says on every page load.
 */
export function lastRole(): string | null {
  try {
    return typeof localStorage === 'undefined' ? null : localStorage.getItem(STORAGE_KEY);
  } catch {
    return null; // storage blocked by the browser's privacy settings: no early reads
  }
}

export function rememberRole(role: Role | null): void {
  try {
    if (role === null) localStorage.removeItem(STORAGE_KEY);
    else localStorage.setItem(STORAGE_KEY, role);
  } catch {
    // not remembered: the next page load starts its reads after /api/auth/me
  }
}
