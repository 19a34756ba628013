import { applied, type EffectHandler } from "./types";

// ALERT: the notifications go out with the signal (its deliveries); the step is the record.
export const alert: EffectHandler = {
  execute: async () => applied({}),
  reverse: async () => applied({}),
};
