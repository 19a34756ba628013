// Secrets come from .dev.vars locally and `wrangler secret put` when deployed; `wrangler types`
// only sees vars, so the secrets are declared here (merged into the generated Env).
interface Env {
  AFORO_ADMIN_TOKEN: string;
}
