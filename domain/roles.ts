// Operator roles and what each may do (issue 13). One table, read by the edge (every /api route
// declares the permission it needs, workers/permit.ts), by GET /api/me and by the dashboard,
// which hides or disables what a role may not do and says which permission is missing.

export const ROLES = ["owner", "admin", "finance", "revops", "engineering", "viewer"] as const;
export type Role = (typeof ROLES)[number];

/** Every permission, with the words the dashboard and the 403s use. */
export const PERMISSIONS = {
  read: "read the workspace: dashboards, customers, signals, cases, invoices",
  "pricing:write": "change products, metrics, plans and the cost catalog",
  "customers:write": "create and change customers and subscriptions",
  "policies:write": "change detector policies and switch auto-actions on or off",
  "invoices:write": "run invoicing, pay, void and finalize invoices",
  "cases:work": "resolve and reopen cases and signals, execute and reverse actions",
  "keys:manage": "issue and revoke API keys",
  "channels:manage": "add, change and test alert channels and the alert budget",
  "pipeline:operate": "replay detection and refresh the metrics",
  "exports:manage": "run and schedule warehouse exports",
  "reports:share": "save, schedule and share reports",
  "members:manage": "invite members, change their roles and remove them",
  "ai:manage": "set the workspace's Anthropic key, model and daily AI cost cap",
  "audit:read": "read the audit log",
} as const;
export type Permission = keyof typeof PERMISSIONS;

const ALL = Object.keys(PERMISSIONS) as Permission[];

export const ROLE_PERMISSIONS: Record<Role, readonly Permission[]> = {
  owner: ALL,
  admin: ALL,
  finance: ["read", "customers:write", "invoices:write", "reports:share", "audit:read"],
  revops: ["read", "customers:write", "cases:work", "reports:share", "audit:read"],
  engineering: [
    "read",
    "keys:manage",
    "channels:manage",
    "pipeline:operate",
    "exports:manage",
    "audit:read",
  ],
  viewer: ["read"],
};

/** The stakeholder home each role opens by (the reports' personas, /home/<id>). */
export const PERSONAS: Record<Role, "product" | "finance" | "revops" | "engineering"> = {
  owner: "product",
  admin: "product",
  finance: "finance",
  revops: "revops",
  engineering: "engineering",
  viewer: "product",
};

export const isRole = (value: string): value is Role =>
  (ROLES as readonly string[]).includes(value);

export const can = (role: Role, permission: Permission): boolean =>
  ROLE_PERMISSIONS[role].includes(permission);

/** Why a role may not do something, in the words a 403 and a disabled button use. */
export const refusal = (role: Role, permission: Permission): string =>
  `Your role (${role}) lacks the permission '${permission}' (${PERMISSIONS[permission]})`;

/**
 * Whether `granter` may give someone `role` (invite, change role, issue a token): only an owner
 * makes owners, and nobody grants a permission they do not hold themselves.
 */
export function mayGrant(granter: Role, role: Role): boolean {
  if (role === "owner") return granter === "owner";
  return ROLE_PERMISSIONS[role].every((p) => can(granter, p));
}
