// Who is signed in (GET /api/me) and what they may do. Views ask `usePermit(permission)` before
// they offer a change: a control the role may not use is disabled and says why, in the words
// the API's 403 would use, instead of failing after a click.

import { createContext } from "preact";
import { useContext } from "preact/hooks";
import type { Me, Permission } from "../../../contracts/accounts";

export const MeContext = createContext<Me | null>(null);

export function useMe(): Me {
  const me = useContext(MeContext);
  if (!me) throw new Error("useMe outside of a signed-in session");
  return me;
}

export interface Permit {
  allowed: boolean;
  /** Why not, when not allowed (shown beside or on the disabled control). */
  reason: string | null;
}

/** Outside a session (tests rendering a view alone) everything is allowed; the API decides. */
export function usePermit(permission: Permission): Permit {
  const me = useContext(MeContext);
  if (!me || me.permissions.includes(permission)) return { allowed: true, reason: null };
  return {
    allowed: false,
    reason: me.refused[permission] ?? `Your role (${me.role}) lacks '${permission}'`,
  };
}

/** How a trail's or the audit log's actor reads: the person's address, or the token's id. */
export function actorLabel(actor: string, name?: string | null): string {
  if (actor.startsWith("member:")) return name ? `${name} (${actor.slice(7)})` : actor.slice(7);
  if (actor.startsWith("token:")) {
    return name ? `API token “${name}” (${actor.slice(6)})` : `API token ${actor.slice(6)}`;
  }
  if (actor.startsWith("operator:")) return `API token ${actor.slice(9)}`;
  return actor;
}
