import { z } from "zod";
import {
  DEFAULT_POLICY,
  type PolicyDocument,
  type PolicyOverrideDocument,
  resolvePolicy,
} from "../domain/ladder";
import { parseStored } from "./d1";

// Policy documents in D1: loading a tenant's and resolving them for one customer
// (defaults ← tenant ← product ← customer; domain/ladder.ts). Segment overrides (scope
// 'segment', schema/0018) hold budget-alert thresholds of one customer segment: the tenant
// detectors read them (defaults ← tenant ← segment), a customer's resolution never does.

/** The effective policy for this customer, optionally for one of its products. */
export type PolicyResolver = (product?: string) => PolicyDocument;

export const defaultPolicies: PolicyResolver = () => DEFAULT_POLICY;

/** A stored override document: sections of named settings, validated on write by the policy
 * route; read back as plain objects of the documented sections (anything else kept as stored). */
const StoredPolicy = z
  .looseObject({
    detectors: z.record(z.string(), z.record(z.string(), z.unknown())).optional(),
    ladder: z.record(z.string(), z.unknown()).optional(),
    auto_actions: z.record(z.string(), z.boolean()).optional(),
    gate: z.record(z.string(), z.number()).optional(),
    actions: z.record(z.string(), z.union([z.number(), z.string()])).optional(),
  })
  .transform((doc) => doc as PolicyOverrideDocument);

export type PolicyScope = "tenant" | "product" | "customer" | "segment";

interface PolicyRow {
  scope: PolicyScope;
  scope_id: string;
  body: string;
}

export async function loadCustomerPolicies(
  db: D1Database,
  tenantId: string,
  customerId: string,
): Promise<PolicyResolver> {
  const { results } = await db
    .prepare(
      `SELECT scope, scope_id, body FROM policies
       WHERE tenant_id = ? AND scope <> 'segment' AND (scope <> 'customer' OR scope_id = ?)`,
    )
    .bind(tenantId, customerId)
    .all<PolicyRow>();
  return resolverFrom(results);
}

export function resolverFrom(rows: PolicyRow[]): PolicyResolver {
  let tenant: PolicyOverrideDocument | undefined;
  let customer: PolicyOverrideDocument | undefined;
  const products = new Map<string, PolicyOverrideDocument>();
  for (const row of rows) {
    const body = parseStored(StoredPolicy, row.body, `policy ${row.scope}:${row.scope_id}`);
    if (row.scope === "tenant") tenant = body;
    else if (row.scope === "customer") customer = body;
    else if (row.scope === "product") products.set(row.scope_id, body);
  }
  const memo = new Map<string, PolicyDocument>();
  return (product) => {
    const key = product ?? "";
    let doc = memo.get(key);
    if (!doc) {
      doc = resolvePolicy([tenant, product ? products.get(product) : undefined, customer]);
      memo.set(key, doc);
    }
    return doc;
  };
}

/** Every override document of a tenant, by scope (the API shows them as stored). */
export interface TenantPolicies {
  tenant: PolicyOverrideDocument | undefined;
  products: Record<string, PolicyOverrideDocument>;
  customers: Record<string, PolicyOverrideDocument>;
  /** By segment value (budget alerts only). */
  segments: Record<string, PolicyOverrideDocument>;
}

export async function loadTenantPolicies(
  db: D1Database,
  tenantId: string,
): Promise<TenantPolicies> {
  const { results } = await db
    .prepare(
      "SELECT scope, scope_id, body FROM policies WHERE tenant_id = ? ORDER BY scope, scope_id",
    )
    .bind(tenantId)
    .all<PolicyRow>();
  const out: TenantPolicies = { tenant: undefined, products: {}, customers: {}, segments: {} };
  for (const row of results) {
    const body = parseStored(StoredPolicy, row.body, `policy ${row.scope}:${row.scope_id}`);
    if (row.scope === "tenant") out.tenant = body;
    else if (row.scope === "product") out.products[row.scope_id] = body;
    else if (row.scope === "segment") out.segments[row.scope_id] = body;
    else out.customers[row.scope_id] = body;
  }
  return out;
}

/** Replaces the override of one scope (scope id "" for the tenant); batch it with the catalog
 * version bump, since actors reload their policies with the catalog. */
export const upsertPolicyStatement = (
  db: D1Database,
  tenantId: string,
  scope: PolicyRow["scope"],
  scopeId: string,
  doc: PolicyOverrideDocument,
  now: number,
) =>
  db
    .prepare(
      `INSERT INTO policies (tenant_id, scope, scope_id, body, updated_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (tenant_id, scope, scope_id) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at`,
    )
    .bind(tenantId, scope, scopeId, JSON.stringify(doc), now);
