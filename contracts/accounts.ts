// What the account routes serve (issue 13): GET /api/me, the members, your passkeys, the audit
// log, and the answer of a sign-in. Type-only: the API's zod schemas must produce exactly these
// (workers/contracts-check.ts).

export type Role = "owner" | "admin" | "finance" | "revops" | "engineering" | "viewer";

/** The stakeholder home a role opens by (/home/<persona>). */
export type Persona = "product" | "finance" | "revops" | "engineering";

export type Permission =
  | "read"
  | "pricing:write"
  | "customers:write"
  | "policies:write"
  | "invoices:write"
  | "cases:work"
  | "keys:manage"
  | "channels:manage"
  | "pipeline:operate"
  | "exports:manage"
  | "reports:share"
  | "members:manage"
  | "ai:manage"
  | "audit:read";

/** The caller: a signed-in member, or an API token with a role. */
export interface Me {
  kind: "member" | "token";
  id: string;
  /** How trails and the audit log name the caller: `member:<email>` or `token:<key id>`. */
  actor: string;
  name: string | null;
  email: string | null;
  role: Role;
  persona: Persona;
  tenant_id: string;
  permissions: Permission[];
  /** Each permission the caller lacks, with the sentence the dashboard shows. */
  refused: Record<string, string>;
  /** Sent back as X-CSRF-Token on state-changing requests of a session; null for tokens. */
  csrf_token: string | null;
  /** The member's active sessions (all browsers); null for tokens. */
  sessions: number | null;
}

export interface Member {
  id: string;
  email: string;
  name: string | null;
  role: Role;
  persona: Persona;
  status: "invited" | "active";
  invited_by: string | null;
  created_at: string;
  last_sign_in_at: string | null;
}

export interface SignedIn {
  member: Member;
  tenant: { id: string; name: string };
  csrf_token: string;
  expires_at: string;
}

export interface Passkey {
  id: string;
  name: string | null;
  created_at: string;
  last_used_at: string | null;
}

/** One row of the audit log, newest first. */
export interface AuditEntry {
  id: number;
  at: string;
  /** `member:<email>`, `token:<key id>` or `system`. */
  actor: string;
  actor_name: string | null;
  actor_role: string;
  /** `invoice.pay`, `policy.update`, `signin.magic_link`, … */
  action: string;
  target_type: string | null;
  target_id: string | null;
  /** The request body, secrets masked. */
  detail: Record<string, unknown>;
}
