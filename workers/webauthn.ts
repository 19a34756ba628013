import { publicOrigin } from "./sign-in-links";

/** The WebAuthn relying party: Aforo's public origin (AFORO_PUBLIC_URL, else the request's).
 * Passkeys are bound to its host name, so they work on `localhost`, never on a bare IP. */
export function relyingParty(env: Env, requestUrl: string) {
  const origin = publicOrigin(env, requestUrl);
  return { id: new URL(origin).hostname, origin, name: "Aforo" };
}
