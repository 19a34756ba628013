// Secrets come from .dev.vars locally and `wrangler secret put` when deployed; `wrangler types`
// only sees vars, so the secrets are declared here (merged into the generated Env).
interface Env {
  AFORO_ADMIN_TOKEN: string;
  /**
   * Local mode for outbound URLs (domain/outbound-url.ts): exactly "loopback" lets channels and
   * the proxy reach loopback hosts (127.0.0.0/8, ::1, localhost), over http too, so local
   * receivers work. `npm start` writes it into .dev.vars; deployed it is absent.
   */
  AFORO_LOCAL_NETWORK?: string;
}
