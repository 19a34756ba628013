// Signing in and out. A person signs in by a magic link or a passkey into an HttpOnly session
// cookie the page never sees (only its CSRF token, from the sign-in answer or GET /api/me). An
// operator API token (machines, scripts, the `#token=` link) still works: it lives in
// sessionStorage, survives reloads of this tab and is gone when the tab closes.

import {
  browserSupportsWebAuthn,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  startAuthentication,
  startRegistration,
} from "@simplewebauthn/browser";
import type { Me, Passkey, SignedIn } from "../../../contracts/accounts";
import { ApiClient, type Credential } from "./api";

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

/** A sign-in link's token in the address (`/sign-in?link=…`), taken out of it so a reload or
 * the history does not try to spend it twice. */
export function takeLinkFromAddress(): string | null {
  if (location.pathname.replace(/\/+$/, "") !== "/sign-in") return null;
  const params = new URLSearchParams(location.search);
  const link = params.get("link");
  if (!link) return null;
  params.delete("link");
  const rest = params.toString();
  history.replaceState(null, "", `/sign-in${rest ? `?${rest}` : ""}`);
  return link;
}

/** The public /auth routes take no credential (signing in is how one gets one); the cookie a
 * sign-in answer sets is kept by the browser. */
const anonymous = new ApiClient({ kind: "anonymous" });
const post = <T>(path: string, body: unknown) => anonymous.post<T>(path, body);

/** Whether this browser holds a live session cookie (asked without a 401 in the console). */
export const hasSession = () =>
  anonymous.get<{ signed_in: boolean }>("/auth/session").then((s) => s.signed_in);

export const requestMagicLink = (email: string) =>
  post<{ detail: string }>("/auth/magic-link", { email });

export const verifyMagicLink = (token: string) =>
  post<SignedIn>("/auth/magic-link/verify", { token });

export const passkeysSupported = () => browserSupportsWebAuthn();

/** A passkey ceremony's failure in words: a closed or timed-out prompt is the common one. */
export function passkeyFailure(err: unknown, closed: string): string {
  if (err instanceof Error && err.name === "NotAllowedError") return closed;
  return err instanceof Error ? err.message || String(err) : String(err);
}

/** Signs in with a passkey this browser or a security key holds (discoverable credential). */
export async function signInWithPasskey(): Promise<SignedIn> {
  const start = await post<{ challenge_id: string; options: unknown }>(
    "/auth/passkeys/options",
    {},
  );
  const response = await startAuthentication({
    optionsJSON: start.options as PublicKeyCredentialRequestOptionsJSON,
  });
  return post<SignedIn>("/auth/passkeys/verify", { challenge_id: start.challenge_id, response });
}

/** Adds a passkey to the signed-in member's account. */
export async function registerPasskey(api: ApiClient, name: string): Promise<Passkey> {
  const start = await api.post<{ challenge_id: string; options: unknown }>(
    "/api/me/passkeys/options",
  );
  const response = await startRegistration({
    optionsJSON: start.options as PublicKeyCredentialCreationOptionsJSON,
  });
  return api.post<Passkey>("/api/me/passkeys", {
    challenge_id: start.challenge_id,
    response,
    ...(name.trim() ? { name: name.trim() } : {}),
  });
}

/**
 * The client and the caller for a credential: the token as given, or the session cookie the
 * browser holds (its CSRF token read from /api/me). Rejects with ApiError 401 when refused.
 */
export async function enter(
  credential: Credential,
  onUnauthorized: () => void,
): Promise<{ api: ApiClient; me: Me }> {
  const me = await new ApiClient(credential).get<Me>("/api/me");
  const settled: Credential =
    credential.kind === "session"
      ? { kind: "session", csrfToken: me.csrf_token ?? "" }
      : credential;
  return { api: new ApiClient(settled, onUnauthorized), me };
}

/** Ends this browser's session (or every session of the member); a token is just forgotten. */
export async function signOut(api: ApiClient, everywhere = false): Promise<void> {
  clearToken();
  if (api.credential.kind === "session") await api.post("/auth/sign-out", { everywhere });
}
