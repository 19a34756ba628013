// The pricing parser's tokenizer: plain English → money amounts, quantities, percentages, words
// and clause separators, every number held exactly (money in nanos, quantities in micros, as
// the pricing engine holds them). Pure; no Workers imports.
//
// What it reads:
// - money: a symbol before the number ("$2K", "US$0.002", "€15", "£1.5M", "¥100") or a currency
//   after it ("2,000 USD", "15 euros", "30¢", "50 cents");
// - quantities: "10,000", "1.5", "10k", "1M", "1mm", "2B", "1 million", "3 thousand";
// - percentages: "15%", "15 %", "15 percent";
// - words, lower-cased; a hyphen or slash splits ("per-token" → per token, "/GB" → per gb);
// - separators: , ; . + & and the joining words the grammar splits clauses on (and, plus, then,
//   but, while) — a comma or point inside a number is part of the number.

import { parseScaled } from "../money";

/** Where a token sits in the text: [at, end), so a clarification quotes the operator's words. */
interface Span {
  text: string;
  at: number;
  end: number;
}

export type Token =
  | ({ kind: "money"; nanos: bigint; currency: string | null } & Span)
  | ({ kind: "number"; micros: bigint } & Span)
  | ({ kind: "percent"; micros: bigint } & Span)
  | ({ kind: "word"; word: string } & Span)
  | ({ kind: "sep" } & Span);

const SUFFIX: Record<string, bigint> = {
  k: 1_000n,
  thousand: 1_000n,
  m: 1_000_000n,
  mm: 1_000_000n,
  mil: 1_000_000n,
  million: 1_000_000n,
  b: 1_000_000_000n,
  bn: 1_000_000_000n,
  billion: 1_000_000_000n,
};

const SYMBOLS: Record<string, string> = {
  $: "USD",
  us$: "USD",
  "€": "EUR",
  "£": "GBP",
  "¥": "JPY",
};

const CODES: Record<string, string> = {
  usd: "USD",
  dollar: "USD",
  dollars: "USD",
  eur: "EUR",
  euro: "EUR",
  euros: "EUR",
  gbp: "GBP",
  pound: "GBP",
  pounds: "GBP",
  jpy: "JPY",
  yen: "JPY",
  cad: "CAD",
  aud: "AUD",
  chf: "CHF",
  inr: "INR",
};

// One pass over the text. Order matters: money before bare numbers, a number's suffix glued to
// it ("2K") or a scale word after a space ("1 million").
const DIGITS = String.raw`(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+`;
const LEXEME = new RegExp(
  String.raw`(us\$|[$€£¥])\s?(${DIGITS})(?:\s?(thousand|million|billion)\b|(k|mm|mil|m|bn|b)\b)?|(${DIGITS})(?:\s?(thousand|million|billion)\b|(k|mm|mil|m|bn|b)\b)?(\s?%|\s?percent\b|\s?pct\b|\s?¢|\s?cents?\b)?|([a-z]+(?:'[a-z]+)?)|([,;.+&])|([\s\-/–—:()!?"]+)|(.)`,
  "giu",
);

/** Digits with thousands commas: "1,000" or "1,000,000.5", never "1,00". */
const GROUPED = /^\d{1,3}(,\d{3})+(\.\d+)?$|^\d+(\.\d+)?$|^\.\d+$/;

function scaled(digits: string, scale: number, suffix: string | undefined): bigint | null {
  if (!GROUPED.test(digits)) return null;
  let value: bigint;
  try {
    value = parseScaled(digits.replaceAll(",", ""), scale + 9);
  } catch {
    return null;
  }
  const factor = suffix ? (SUFFIX[suffix.toLowerCase()] ?? 1n) : 1n;
  const exact = value * factor;
  const unit = 10n ** 9n;
  // Beyond the engine's precision (e.g. "$0.0000000001"): not a number we can hold exactly.
  if (exact % unit !== 0n) return null;
  return exact / unit;
}

export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let skipPlusAt = -1;
  for (const m of text.matchAll(LEXEME)) {
    const at = m.index;
    if (at === skipPlusAt) continue;
    const end = at + m[0].length;
    const [whole, symbol, moneyDigits, moneyWord, moneySuffix, digits, word, suffix, unitMark] = m;
    const alpha = m[9];
    const sep = m[10];
    if (symbol && moneyDigits) {
      const nanos = scaled(moneyDigits, 9, moneyWord ?? moneySuffix);
      if (nanos === null) tokens.push({ kind: "word", word: "?", text: whole, at, end });
      else {
        tokens.push({
          kind: "money",
          nanos,
          currency: SYMBOLS[symbol.toLowerCase()] ?? null,
          text: whole.trim(),
          at,
          end,
        });
      }
    } else if (digits) {
      const mark = unitMark?.trim().toLowerCase();
      if (mark === "¢" || mark?.startsWith("cent")) {
        const hundredths = scaled(digits, 9, word ?? suffix);
        if (hundredths !== null && hundredths % 100n === 0n) {
          tokens.push({
            kind: "money",
            nanos: hundredths / 100n,
            currency: "USD",
            text: whole,
            at,
            end,
          });
        } else tokens.push({ kind: "word", word: "?", text: whole, at, end });
        continue;
      }
      const micros = scaled(digits, 6, word ?? suffix);
      if (micros === null) {
        tokens.push({ kind: "word", word: "?", text: whole, at, end });
      } else if (mark) {
        tokens.push({ kind: "percent", micros, text: whole.trim(), at, end });
      } else {
        const previous = tokens[tokens.length - 1];
        const code = previous?.kind === "word" ? CODES[previous.word] : undefined;
        if (previous?.kind === "word" && code && previous.word.length === 3) {
          // "USD 0.02", "EUR 15": a code before the number makes it money.
          tokens[tokens.length - 1] = {
            kind: "money",
            nanos: micros * 1000n,
            currency: code,
            text: text.slice(previous.at, end),
            at: previous.at,
            end,
          };
        } else if (text[end] === "+") {
          // "5,000+" is "above 5,000" (the "+" is then no separator).
          tokens.push({ kind: "word", word: "above", text: "+", at: end, end: end + 1 });
          tokens.push({ kind: "number", micros, text: whole.trim(), at, end });
          skipPlusAt = end;
        } else {
          tokens.push({ kind: "number", micros, text: whole.trim(), at, end });
        }
      }
    } else if (alpha) {
      const lower = alpha.toLowerCase();
      const code = CODES[lower];
      const previous = tokens[tokens.length - 1];
      // "2,000 USD", "15 euros": a currency after a bare number makes it money.
      if (code && previous?.kind === "number") {
        tokens[tokens.length - 1] = {
          kind: "money",
          nanos: previous.micros * 1000n,
          currency: code,
          text: `${previous.text} ${alpha}`,
          at: previous.at,
          end,
        };
      } else if (code && previous?.kind === "money" && previous.currency === "USD") {
        // "$15 USD", "$20 CAD": the code names the dollar.
        tokens[tokens.length - 1] = { ...previous, currency: code, end };
      } else if (previous?.kind === "number" && /^(K|M|MM|B|BN)$/.test(alpha)) {
        // "1 M tokens", "10 K": a capital scale letter after a space still scales.
        tokens[tokens.length - 1] = {
          ...previous,
          micros: previous.micros * (SUFFIX[lower] ?? 1n),
          text: `${previous.text} ${alpha}`,
          end,
        };
      } else {
        tokens.push({ kind: "word", word: lower, text: alpha, at, end });
      }
    } else if (sep) {
      tokens.push({ kind: "sep", text: sep, at, end });
    } else if (/[–—]|-/.test(whole) && tokens[tokens.length - 1]?.kind === "number") {
      // "1M–10M", "10-100 seats": a dash after a number is a range.
      tokens.push({ kind: "word", word: "to", text: whole, at, end });
    } else if (whole.includes("/")) {
      // "/GB", "/mo", "$0.10/1K": a slash reads as "per".
      tokens.push({ kind: "word", word: "per", text: "/", at, end });
    } else if (m[12] !== undefined) {
      // Anything else (an emoji, a stray symbol) is a word nobody recognises.
      tokens.push({ kind: "word", word: "?", text: whole, at, end });
    }
  }
  return tokens;
}
