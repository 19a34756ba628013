// Optional settings of alert delivery (README "Alerts"), merged into the generated Env like
// workers/secrets.d.ts: set them in .dev.vars, `wrangler secret put` or [vars].
interface Env {
  /** Sender of alert e-mails (a domain of the account with Email Routing when deployed). */
  AFORO_EMAIL_FROM?: string;
}
