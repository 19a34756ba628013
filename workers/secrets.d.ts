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
  /**
   * The deployment's default Anthropic key (docs/ai.md): used by tenants that set none of their
   * own. Absent: such tenants' AI features run their deterministic engines.
   */
  ANTHROPIC_API_KEY?: string;
  /**
   * Where the Messages API is (default https://api.anthropic.com): the tests point it at their
   * local server (test/messages-api/server.ts). Config, not a secret, but optional, so here.
   */
  ANTHROPIC_BASE_URL?: string;
}
