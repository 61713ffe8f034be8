// The signed-in key and who it is (GET /admin/v1/me), kept in session storage: closing the tab
// signs out, and the key never reaches local storage or a cookie.

import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Identity } from './api';

export interface Session {
  key: string;
  identity: Identity;
}

const kStorage = 'llmp.console.session';

export function loadSession(): Session | null {
  try {
    const raw = sessionStorage.getItem(kStorage);
    if (!raw) return null;
    const s = JSON.parse(raw) as Session;
    return s && typeof s.key === 'string' && s.identity ? s : null;
  } catch {
    return null;
  }
}

export function saveSession(s: Session | null) {
  if (s) sessionStorage.setItem(kStorage, JSON.stringify(s));
  else sessionStorage.removeItem(kStorage);
}

export function isPlatform(s: Session): boolean {
  return s.identity.role === 'platform_admin';
}

export const SessionContext = createContext<{ session: Session; signOut: () => void } | null>(null);

export function useSession(): { session: Session; signOut: () => void } {
  const v = useContext(SessionContext);
  if (!v) throw new Error('useSession outside a signed-in page');
  return v;
}
