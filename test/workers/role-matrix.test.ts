import { exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { type Permission, ROLE_PERMISSIONS, ROLES, type Role, refusal } from "../../domain/roles";
import { PERMISSION_EXTENSION } from "../../workers/permit";
import {
  exampleValue,
  type OpenApiDoc,
  type Operation,
  operations,
  paramResource,
  toJson,
} from "./fuzz-openapi";
import { changedTables, digest, type RawResponse, seedWorld, send, type World } from "./fuzz-world";
import { ADMIN_TOKEN, call } from "./helpers";

// Roles (issue 13), generated from /openapi.json like the isolation matrix: every role, as an
// operator token and as a signed-in member, on every documented /api operation. A role that
// holds the operation's `x-aforo-permission` (default `read`) is let through; one that does not
// gets exactly a 403 `forbidden` naming the missing permission, and nothing of the tenant's
// changes. A new route is in the matrix the moment it is documented.
//
// Two worlds, so the refusals can be checked against a book nobody else writes to: in `refusals`
// only requests that must be refused (and reads) are sent, so its digest must never move; in
// `grants` the roles that may do something do it, whatever that changes.

const doc = (await call("GET", "/openapi.json")).body as OpenApiDoc;
const ALL_OPS = operations(doc);

const kindOf = (op: Operation) => op.security[0] ?? "operatorToken";

/** Every /api operation an operator calls: /auth/* takes no credential, /admin/* the platform's
 * token, and the ingest-key routes (/v1/*) no operator at all. */
const OPS = ALL_OPS.filter((op) => op.path.startsWith("/api/") && kindOf(op) === "operatorToken");

const permissionOf = (op: Operation): Permission =>
  (doc.paths[op.path]?.[op.method.toLowerCase()]?.[PERMISSION_EXTENSION] as Permission) ?? "read";

/**
 * Writes that need only `read`, and why: a member's own passkeys are theirs to manage whatever
 * their role (they change how that person signs in, nothing of the workspace).
 */
const READ_WRITES: Record<string, string> = {
  "POST /api/me/passkeys/options": "starts registering one's own passkey",
  "POST /api/me/passkeys": "registers one's own passkey",
  "DELETE /api/me/passkeys/{id}": "deletes one's own passkey",
  "POST /api/reports/run": "runs a report query and changes nothing (POST carries the query)",
  "POST /api/copilot/pricing/parse": "reads a sentence into a proposal and stores nothing",
  "POST /api/pricing/preview": "prices a usage scenario and stores nothing",
  "POST /api/cases/{id}/explain":
    "words the figures a case already holds; stores nothing of the tenant's books (the AI call is logged, as every AI call is)",
  "POST /api/copilot/architect":
    "Guide and Pre-fill store nothing; Auto-create checks pricing:write itself and writes through the catalog routes, which check it again",
};

/** Routes that belong to a person, not a machine: a token gets 403 whatever its role. */
const PEOPLE_ONLY = new Set([
  "GET /api/me/passkeys",
  "POST /api/me/passkeys/options",
  "POST /api/me/passkeys",
  "DELETE /api/me/passkeys/{id}",
]);
const PEOPLE_ONLY_DETAIL = "Passkeys belong to people";

/** Permissions the roles table already grants for features whose routes are not built yet:
 * when they arrive, they must declare these. */
const PERMISSIONS_WITHOUT_ROUTES_YET: Permission[] = [];

const key = (op: Operation) => `${op.method} ${op.path}`;

interface Caller {
  role: Role;
  headers: Record<string, string>;
  kind: "token" | "member";
}

interface RoleWorld {
  world: World;
  tokens: Record<Role, Caller>;
  members: Partial<Record<Role, Caller>>;
}

/** Roles checked through a member's session too (the owner's is the same code path as the
 * admin's, and every role's token already runs the whole matrix). */
const SESSION_ROLES: Role[] = ["admin", "finance", "revops", "engineering", "viewer"];

/** Signs `email` in by a magic link the platform mints; the cookie and its CSRF token. */
async function signIn(tenantId: string, email: string) {
  const link = await call("POST", `/admin/tenants/${tenantId}/sign-in-links`, {
    token: ADMIN_TOKEN,
    body: { email },
  });
  if (link.status !== 201) throw new Error(`sign-in link: ${JSON.stringify(link.body)}`);
  const token = new URL(link.body.url).searchParams.get("link") ?? "";
  const res = await exports.default.fetch("http://aforo.test/auth/magic-link/verify", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ token }),
  });
  if (res.status !== 200) throw new Error(`sign-in: ${res.status} ${await res.text()}`);
  const cookie = (res.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
  const body = (await res.json()) as { csrf_token: string };
  return { cookie, csrfToken: body.csrf_token };
}

async function rolesFor(world: World): Promise<RoleWorld> {
  const owner = world.tenant.operator_token;
  const tokens = {} as Record<Role, Caller>;
  const members: Partial<Record<Role, Caller>> = {};
  await Promise.all(
    ROLES.map(async (role) => {
      const issued = await call("POST", "/api/keys", {
        token: owner,
        body: { kind: "operator", role, name: `${role} matrix token` },
      });
      if (issued.status !== 201 || issued.body.role !== role) {
        throw new Error(`issuing a ${role} token: ${JSON.stringify(issued.body)}`);
      }
      tokens[role] = {
        role,
        kind: "token",
        headers: { authorization: `Bearer ${issued.body.key}` },
      };
    }),
  );
  for (const role of SESSION_ROLES) {
    const email = `${role}-matrix@${world.tenant.tenant_id.replace(/[^a-z0-9]/gi, "")}.example`;
    const invited = await call("POST", "/api/members", { token: owner, body: { email, role } });
    if (invited.status !== 201)
      throw new Error(`inviting a ${role}: ${JSON.stringify(invited.body)}`);
    const s = await signIn(world.tenant.tenant_id, email);
    // What the dashboard sends: the cookie, its CSRF token, and this origin.
    members[role] = {
      role,
      kind: "member",
      headers: { cookie: s.cookie, "x-csrf-token": s.csrfToken, origin: "http://aforo.test" },
    };
  }
  return { world, tokens, members };
}

let refusals: RoleWorld;
let grants: RoleWorld;

beforeAll(async () => {
  const [r, g] = await Promise.all([
    seedWorld("refusals", { signals: true }),
    seedWorld("grants", { signals: true }),
  ]);
  [refusals, grants] = await Promise.all([rolesFor(r), rolesFor(g)]);
}, 120_000);

/** The route's path with the world's ids and a valid body. A body's `role` asks for `viewer`,
 * which anyone allowed to grant roles may grant (how far a granter may go is mayGrant's, and
 * would otherwise answer a legitimate 403 here). */
function requestFor(op: Operation, w: World) {
  let path = op.path;
  for (const p of op.params.filter((x) => x.in === "path")) {
    const pool = w.ids[paramResource(op, p.name)] ?? [];
    if (pool.length === 0) throw new Error(`${op.path}: no seeded ids for {${p.name}}`);
    path = path.replace(`{${p.name}}`, encodeURIComponent(pool[0] ?? ""));
  }
  let body = op.body
    ? exampleValue(op.body.schema, { doc, ids: w.ids, urls: [w.hook] })
    : undefined;
  if (body && typeof body === "object" && !Array.isArray(body) && "role" in body) {
    body = { ...body, role: "viewer" };
  }
  return { path, body: body === undefined ? undefined : toJson(body) };
}

function sendAs(op: Operation, w: World, caller: Caller) {
  const req = requestFor(op, w);
  return send({
    method: op.method,
    url: req.path,
    headers: {
      ...caller.headers,
      ...(req.body !== undefined ? { "content-type": "application/json" } : {}),
    },
    ...(req.body !== undefined ? { body: req.body } : {}),
  });
}

const refusalCode = (res: RawResponse) => (res.json as { code?: string } | null)?.code;
const detailOf = (res: RawResponse) => (res.json as { detail?: string } | null)?.detail ?? "";

/** Runs one operation for every caller of one kind: the refused ones against `refusals`, the
 * allowed ones against `grants`. */
async function matrixRow(op: Operation, callers: (w: RoleWorld) => Caller[]) {
  const permission = permissionOf(op);
  const refused = callers(refusals).filter((c) => !ROLE_PERMISSIONS[c.role].includes(permission));
  const allowed = callers(grants).filter((c) => ROLE_PERMISSIONS[c.role].includes(permission));
  expect(refused.length + allowed.length, key(op)).toBe(callers(refusals).length);
  const tenantId = refusals.world.tenant.tenant_id;

  for (const caller of refused) {
    const what = `${caller.role} ${caller.kind} on ${key(op)}`;
    const before = await digest(tenantId, { whole: false });
    const res = await sendAs(op, refusals.world, caller);
    expect([res.status, res.contentType, refusalCode(res)], `${what}: ${res.text}`).toEqual([
      403,
      "application/problem+json",
      "forbidden",
    ]);
    expect(detailOf(res), what).toContain(refusal(caller.role, permission));
    const after = await digest(tenantId, { whole: false });
    expect(changedTables(before, after), `${what} changed the tenant's rows`).toEqual([]);
  }

  for (const caller of allowed) {
    const what = `${caller.role} ${caller.kind} on ${key(op)}`;
    const res = await sendAs(op, grants.world, caller);
    if (caller.kind === "token" && PEOPLE_ONLY.has(key(op))) {
      expect([res.status, refusalCode(res)], `${what}: ${res.text}`).toEqual([403, "forbidden"]);
      expect(detailOf(res), what).toContain(PEOPLE_ONLY_DETAIL);
      continue;
    }
    // Let through: whatever the route makes of the request (a conflict, a 404 for what an
    // earlier role deleted, a validation 400), but not a refusal, and the credential held.
    expect(res.status, `${what} was refused: ${res.text.slice(0, 300)}`).not.toBe(403);
    expect(res.status, `${what} was not signed in: ${res.text.slice(0, 300)}`).not.toBe(401);
    expect(res.status, `${what}: ${res.text.slice(0, 300)}`).toBeLessThan(500);
  }
}

describe("the role matrix", () => {
  it("covers every /api operation, reads and writes", () => {
    expect(OPS.length).toBeGreaterThan(60);
    expect(OPS.filter((op) => op.method !== "GET").length).toBeGreaterThan(30);
    // Every permission guards at least one route (a permission nothing checks is a promise the
    // roles table makes and the API does not keep), except those whose routes are still to come.
    const declared = new Set(OPS.map(permissionOf));
    const unused = ROLE_PERMISSIONS.owner.filter((p) => !declared.has(p));
    expect(unused).toEqual(PERMISSIONS_WITHOUT_ROUTES_YET);
    // Every role but those holding everything is refused somewhere, so the matrix refuses.
    for (const role of ROLES.filter((r) => r !== "owner" && r !== "admin")) {
      expect(
        OPS.filter((op) => !ROLE_PERMISSIONS[role].includes(permissionOf(op))).length,
        role,
      ).toBeGreaterThan(3);
    }
  });

  it("every write declares a permission stronger than read, or is listed with its reason", () => {
    const weak = OPS.filter(
      (op) => op.method !== "GET" && permissionOf(op) === "read" && !(key(op) in READ_WRITES),
    ).map(key);
    expect(weak).toEqual([]);
    // A listed write that gained a permission must leave the list.
    const stale = Object.keys(READ_WRITES).filter((k) => {
      const op = OPS.find((o) => key(o) === k);
      return !op || permissionOf(op) !== "read";
    });
    expect(stale).toEqual([]);
  });

  describe("operator tokens of every role", () => {
    for (const op of OPS) {
      it(key(op), async () => {
        await matrixRow(op, (w) => ROLES.map((r) => w.tokens[r]));
      });
    }
  });

  describe("members signed in with a session cookie", () => {
    for (const op of OPS) {
      it(key(op), async () => {
        await matrixRow(op, (w) => SESSION_ROLES.flatMap((r) => w.members[r] ?? []));
      });
    }
  });
});
