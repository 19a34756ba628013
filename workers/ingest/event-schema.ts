import { z } from "@hono/zod-openapi";

// The shapes POST /v1/events accepts (SPEC §4). Every string and collection is bounded, and
// property keys that could reach an object prototype are refused outright.

const FORBIDDEN_KEYS = new Set(["__proto__", "constructor", "prototype"]);
export const MAX_QUANTITY = 1_000_000_000;
const QUANTITY_DECIMALS = 6;

const EventId = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[\x21-\x7e]+$/, "printable ASCII without spaces");
const Ref = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:@-]*$/, "letters, digits and . _ : @ - (start alphanumeric)");

const Quantity = z
  .number()
  .finite()
  .nonnegative()
  .max(MAX_QUANTITY, `at most ${MAX_QUANTITY.toLocaleString("en")} per event; split larger amounts`)
  .refine((q) => {
    const text = String(q);
    if (text.includes("e")) return q === 0 || q >= 1;
    const frac = text.split(".")[1];
    return !frac || frac.length <= QUANTITY_DECIMALS;
  }, `at most ${QUANTITY_DECIMALS} decimal places`);

const Count = z.number().int().nonnegative().max(1e12);

export const EventCostSchema = z
  .object({
    usd: z
      .union([
        z.number().finite().nonnegative().max(1e9),
        z.string().regex(/^\d{1,10}(\.\d{1,12})?$/),
      ])
      .optional(),
    provider: z.string().trim().min(1).max(128).optional(),
    model: z.string().trim().min(1).max(128).optional(),
    input_tokens: Count.optional(),
    output_tokens: Count.optional(),
    cached_input_tokens: Count.optional(),
    calls: Count.optional(),
  })
  .strict();

const PropertyValue = z.union([z.string().max(1024), z.number().finite(), z.boolean(), z.null()]);
const PropertyName = z
  .string()
  .min(1)
  .max(64)
  .refine((key) => !FORBIDDEN_KEYS.has(key), { message: "this property name is not allowed" });
// zod drops a `__proto__` key silently; refuse it (and its kin) so the sender hears about it.
const Properties = z.preprocess(
  (value, ctx) => {
    if (value !== null && typeof value === "object") {
      for (const key of Object.keys(value)) {
        if (FORBIDDEN_KEYS.has(key)) {
          ctx.addIssue({
            code: "custom",
            path: [key],
            message: "this property name is not allowed",
          });
        }
      }
    }
    return value;
  },
  z
    .record(PropertyName, PropertyValue)
    .refine((props) => Object.keys(props).length <= 50, "at most 50 properties"),
);

const Time = z.iso.datetime({
  offset: true,
  message: "an RFC 3339 time such as 2026-11-27T10:03:11Z",
});

/** The property Aforo records the key id of an event sent with an api_key under (so drill-down,
 * exports and reports can cut by it); a sender may not set it (workers/routes/ingest.ts). */
export const KEY_ID_PROPERTY = "api_key_id";

export const NativeEvent = z
  .object({
    id: EventId,
    customer: Ref.optional().openapi({ description: "Required unless api_key names the customer" }),
    api_key: z.string().max(200).optional().openapi({
      description:
        "One of the customer's API keys (sk_live_…): the event is attributed to that key, and its customer is the key's (a different `customer` is rejected)",
    }),
    product: Ref,
    metric: Ref,
    quantity: Quantity,
    time: Time,
    cost: EventCostSchema.optional(),
    properties: Properties.optional(),
  })
  .superRefine((e, ctx) => {
    if (e.customer === undefined && e.api_key === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["customer"],
        message: "name the customer or send api_key",
      });
    }
  })
  .openapi("UsageEvent", {
    example: {
      id: "evt_01JD9",
      customer: "acme",
      product: "chat-api",
      metric: "output_tokens",
      quantity: 1532,
      time: "2026-11-27T10:03:11Z",
      cost: {
        provider: "anthropic",
        model: "claude-sonnet-4-5",
        input_tokens: 1200,
        output_tokens: 332,
      },
      properties: { endpoint: "/v1/chat", region: "fra" },
    },
  });

/** CloudEvents 1.0 structured mode: subject = customer, type = metric, data = the rest. */
export const CloudEvent = z
  .object({
    specversion: z.literal("1.0", { message: 'specversion must be "1.0"' }),
    id: EventId,
    source: z.string().min(1).max(256),
    type: Ref,
    subject: Ref,
    time: Time,
    datacontenttype: z.string().max(128).optional(),
    data: z.object({
      product: Ref,
      api_key: z.string().max(200).optional().openapi({
        description: "One of the subject's API keys (sk_live_…): the event is attributed to it",
      }),
      quantity: Quantity,
      cost: EventCostSchema.optional(),
      properties: Properties.optional(),
    }),
  })
  .openapi("CloudEvent");

export type NativeEvent = z.infer<typeof NativeEvent>;
export type CloudEvent = z.infer<typeof CloudEvent>;
