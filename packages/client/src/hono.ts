import type { Env, MiddlewareHandler } from "hono";
import { Gateway, type GatewayOptions } from "./gateway.js";
import type { WaitUntil } from "./sender.js";

/**
 * The gateway as Hono middleware: `app.use("/api/*", aforoGateway({product, metric,
 * connection: (env) => ({service: env.AFORO, ingestKey: env.AFORO_INGEST_KEY})}))`. A handler
 * reports tokens or a quantity with `reportUsage(c, {...})`.
 */
export function aforoGateway<E extends Env = Env>(
  options: GatewayOptions<E["Bindings"]> | Gateway<E["Bindings"]>,
): MiddlewareHandler<E> {
  const gateway = options instanceof Gateway ? options : new Gateway(options);
  return async (c, next) => {
    const startedAt = new Date();
    const outcome = await gateway.check(c.req.raw, c.env);
    if (outcome.kind === "refuse") return outcome.response;
    await next();
    if (outcome.customer || outcome.apiKey) {
      gateway.meter(c.req.raw, c.env, outcome, c.res.status, startedAt, executionCtx(c));
    }
  };
}

/** Hono's context throws when there is no ExecutionContext (Node): then the timer flushes. */
function executionCtx(c: { executionCtx: WaitUntil }): WaitUntil | undefined {
  try {
    return c.executionCtx;
  } catch {
    return undefined;
  }
}

export { Gateway, type GatewayOptions, reportUsage, type Usage, withAforo } from "./gateway.js";
