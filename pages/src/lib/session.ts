// The operator token lives in sessionStorage: it survives reloads of this tab and is gone when
// the tab closes. Nothing else about the operator is stored.

const KEY = "aforo.operator_token";

export function readToken(): string | null {
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
}

export function saveToken(token: string) {
  sessionStorage.setItem(KEY, token);
}

export function clearToken() {
  sessionStorage.removeItem(KEY);
}

/**
 * A token handed over in the URL fragment (`/#token=aforo_op_…`, never sent to the server) is
 * moved into the session and removed from the address bar, so a printed link signs in at once.
 */
export function takeTokenFromFragment(): string | null {
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (!m?.[1]) return null;
  const token = decodeURIComponent(m[1]);
  history.replaceState(history.state, "", location.pathname + location.search);
  return token;
}
