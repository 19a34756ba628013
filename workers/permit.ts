import type { Context, MiddlewareHandler } from "hono";
import { can, type Permission, refusal } from "../domain/roles";
import { auditInsert } from "../store/members";
import type { Actor, AppEnv } from "./app";
import { ApiError } from "./problem";

// Every /api route declares, in its own definition, the permission it needs and — when it
// changes something — the audit action it records:
//
//   invoices.openapi(createRoute(permit("invoices:write", "invoice.pay", { method: "post", … })), …)
//
// The declaration puts a guard in front of the handler (a 403 naming the missing permission)
// and `x-aforo-permission` on the operation in /openapi.json, which the role matrix test reads.
// A route without one needs `read`, which every role has. After a state-changing request that
// succeeded, the guard writes the audit row: who, which action, its target (the path's id) and
// the request body with secrets masked.

export const PERMISSION_EXTENSION = "x-aforo-permission";

const SECRET_FIELD = /secret|token|password|api_key|signing|authorization/i;

/** A request body fit for the audit log: secret-looking fields masked, long text cut. */
export function auditable(value: unknown, depth = 0): unknown {
  if (depth > 4) return "…";
  if (typeof value === "string") return value.length > 500 ? `${value.slice(0, 500)}…` : value;
  if (Array.isArray(value)) {
    const shown = value.slice(0, 50).map((v) => auditable(v, depth + 1));
    return value.length > 50 ? [...shown, `… ${value.length - 50} more`] : shown;
  }
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [
        k,
        SECRET_FIELD.test(k) ? "•••" : auditable(v, depth + 1),
      ]),
    );
  }
  return value;
}

/** Records an operator action in the audit log (also used by routes outside /api). */
export function recordAudit(
  c: Context<AppEnv>,
  actor: Actor,
  action: string,
  target: { type: string | null; id: string | null },
  detail: Record<string, unknown>,
) {
  return auditInsert(c.env.DB, {
    tenant_id: c.var.tenantId,
    at: Date.now(),
    actor: actor.ref,
    actor_name: actor.name,
    actor_role: actor.role,
    action,
    target_type: target.type,
    target_id: target.id,
    detail,
  }).run();
}

function guard(permission: Permission, action: string | null): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const actor = c.var.actor;
    if (!can(actor.role, permission)) {
      throw new ApiError("forbidden", `${refusal(actor.role, permission)}; ask an owner or admin`);
    }
    await next();
    if (action === null || c.req.method === "GET" || c.res.status >= 400) return;
    const params = c.req.param() as Record<string, string>;
    let body: unknown;
    try {
      body = c.req.valid("json" as never);
    } catch {
      body = undefined;
    }
    const targetId = params.id ?? Object.values(params)[0] ?? null;
    await recordAudit(
      c,
      actor,
      action,
      { type: targetId === null ? null : (action.split(".")[0] ?? null), id: targetId },
      {
        ...(Object.keys(params).length ? { params } : {}),
        ...(body === undefined ? {} : { body: auditable(body) }),
        status: c.res.status,
      },
    );
  };
}

/**
 * Declares a route's permission (and audit action, for routes that change something): adds the
 * guard as the route's middleware and the permission to its OpenAPI operation.
 */
export function permit<R extends object>(
  permission: Permission,
  action: string | null,
  route: R,
): R & { middleware: MiddlewareHandler<AppEnv>; [PERMISSION_EXTENSION]: Permission } {
  return { ...route, middleware: guard(permission, action), [PERMISSION_EXTENSION]: permission };
}
