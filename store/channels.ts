import { z } from "zod";

// Notification channels in D1 (schema/0005_deliveries.sql). A channel's secret (webhook signing
// secret, Slack URL; sealed at rest, workers/deliveries/secrets.ts) is read only by the sender
// and the test send: every other read here selects `secret IS NOT NULL` instead.

export type ChannelType = "slack" | "email" | "webhook";

/** The shown part of a channel's configuration (never secret). */
export const ChannelConfig = z.object({
  /** webhook: the endpoint; slack: a redacted hint of the incoming-webhook URL. */
  url: z.string().optional(),
  /** email: recipient and optional sender. */
  to: z.string().optional(),
  from: z.string().optional(),
});
export type ChannelConfig = z.infer<typeof ChannelConfig>;

/** Parses the stored config; a row that does not parse is treated as empty (and fails to send,
 * permanently, saying what is missing — rather than retrying for 48 hours). */
function parseConfig(text: string): ChannelConfig {
  try {
    const parsed = ChannelConfig.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : {};
  } catch {
    return {};
  }
}

export interface Channel {
  tenant_id: string;
  id: string;
  type: ChannelType;
  name: string;
  config: ChannelConfig;
  /** As stored (sealed) when read from D1; the sender works on the opened value. */
  secret: string | null;
  link_base: string | null;
  enabled: boolean;
  created_at: number;
  updated_at: number;
}

/** A channel as API answers may show it: whether a secret is set, never the secret. */
export interface PublicChannel extends Omit<Channel, "secret"> {
  secret_set: boolean;
}

interface ChannelRow {
  tenant_id: string;
  id: string;
  type: ChannelType;
  name: string;
  config: string;
  link_base: string | null;
  enabled: number;
  created_at: number;
  updated_at: number;
}

const PUBLIC_COLUMNS =
  "tenant_id, id, type, name, config, secret IS NOT NULL AS secret_set, link_base, enabled, created_at, updated_at";

const toPublic = (r: ChannelRow & { secret_set: number }): PublicChannel => ({
  tenant_id: r.tenant_id,
  id: r.id,
  type: r.type,
  name: r.name,
  config: parseConfig(r.config),
  secret_set: r.secret_set === 1,
  link_base: r.link_base,
  enabled: r.enabled === 1,
  created_at: r.created_at,
  updated_at: r.updated_at,
});

export async function listChannels(db: D1Database, tenantId: string): Promise<PublicChannel[]> {
  const { results } = await db
    .prepare(
      `SELECT ${PUBLIC_COLUMNS} FROM notification_channels WHERE tenant_id = ? ORDER BY created_at, id`,
    )
    .bind(tenantId)
    .all<ChannelRow & { secret_set: number }>();
  return results.map(toPublic);
}

export async function getChannel(
  db: D1Database,
  tenantId: string,
  id: string,
): Promise<PublicChannel | null> {
  const row = await db
    .prepare(`SELECT ${PUBLIC_COLUMNS} FROM notification_channels WHERE tenant_id = ? AND id = ?`)
    .bind(tenantId, id)
    .first<ChannelRow & { secret_set: number }>();
  return row ? toPublic(row) : null;
}

/** The one read of a channel's (sealed) secret outside the deliveries consumer: the test send. */
export async function getChannelWithSecret(
  db: D1Database,
  tenantId: string,
  id: string,
): Promise<Channel | null> {
  const row = await db
    .prepare(
      `SELECT tenant_id, id, type, name, config, secret, link_base, enabled, created_at, updated_at
       FROM notification_channels WHERE tenant_id = ? AND id = ?`,
    )
    .bind(tenantId, id)
    .first<ChannelRow & { secret: string | null }>();
  return row ? toChannel(row) : null;
}

/** A channel row (joined, e.g. to a delivery) → the channel, its secret still sealed. */
export const toChannel = (r: ChannelRow & { secret: string | null }): Channel => ({
  tenant_id: r.tenant_id,
  id: r.id,
  type: r.type,
  name: r.name,
  config: parseConfig(r.config),
  secret: r.secret,
  link_base: r.link_base,
  enabled: r.enabled === 1,
  created_at: r.created_at,
  updated_at: r.updated_at,
});

export interface NewChannel {
  id: string;
  type: ChannelType;
  name: string;
  config: ChannelConfig;
  sealedSecret: string | null;
  linkBase: string;
  enabled: boolean;
}

/** Inserts a channel unless the tenant has `maxChannels` already: false when it is full. The cap
 * and the insert are one statement, so concurrent creations cannot pass it. */
export async function insertChannel(
  db: D1Database,
  tenantId: string,
  channel: NewChannel,
  maxChannels: number,
  now: number,
): Promise<boolean> {
  const inserted = await db
    .prepare(
      `INSERT INTO notification_channels
         (tenant_id, id, type, name, config, secret, link_base, enabled, created_at, updated_at)
       SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9
       WHERE (SELECT COUNT(*) FROM notification_channels WHERE tenant_id = ?1) < ?10`,
    )
    .bind(
      tenantId,
      channel.id,
      channel.type,
      channel.name,
      JSON.stringify(channel.config),
      channel.sealedSecret,
      channel.linkBase,
      channel.enabled ? 1 : 0,
      now,
      maxChannels,
    )
    .run();
  return inserted.meta.changes > 0;
}

export interface ChannelChanges {
  name?: string;
  enabled?: boolean;
  config: ChannelConfig;
  /** A new sealed secret; undefined keeps the stored one. */
  sealedSecret?: string;
}

export async function updateChannel(
  db: D1Database,
  tenantId: string,
  id: string,
  changes: ChannelChanges,
  now: number,
): Promise<void> {
  await db
    .prepare(
      `UPDATE notification_channels SET name = COALESCE(?1, name),
         enabled = COALESCE(?2, enabled), config = ?3, secret = COALESCE(?4, secret),
         updated_at = ?5
       WHERE tenant_id = ?6 AND id = ?7`,
    )
    .bind(
      changes.name ?? null,
      changes.enabled === undefined ? null : changes.enabled ? 1 : 0,
      JSON.stringify(changes.config),
      changes.sealedSecret ?? null,
      now,
      tenantId,
      id,
    )
    .run();
}

/** Deletes the channel and its secret (batch it with the cancellation of its deliveries). */
export const deleteChannelStatement = (db: D1Database, tenantId: string, id: string) =>
  db.prepare("DELETE FROM notification_channels WHERE tenant_id = ? AND id = ?").bind(tenantId, id);
