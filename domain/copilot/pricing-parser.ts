// The deterministic plain-English pricing engine (SPEC §8 AI copilot, issue 18): a sentence an
// operator types → a proposal of metrics and a plan whose components are exactly the ones the
// pricing engine rates (domain/pricing.ts, SPEC §11), plus clarifications where the text does
// not say enough. It works with no model and no key; the model, when there is one, only words
// what this finds. Pure; no Workers imports.
//
// The grammar (docs/copilot.md has it with examples):
// - The text is split into clauses at , ; . + & and the joining words and / plus / then / but /
//   while ("between 1M and 10M" stays whole). A clause that only bounds something ("for usage
//   above 1M") joins its neighbour.
// - Each clause is read for: money ("$2K", "2,000 USD", "30¢"), a unit of usage ("per 1,000
//   requests", "per million input tokens", "/GB", "per seat"), a scale ("per 1K", "per MTok"),
//   a period ("monthly", "/mo", "per year", "annual"), a percentage, bounds ("first 10,000",
//   "next 90k", "up to 1M", "above 1M", "from 1M to 10M", "thereafter") and marker words (fee,
//   minimum, included / free, block / pack, discount / off, graduated / volume pricing).
// - A clause is then one of: flat fee · minimum commitment · package · unit price (a tier when
//   bounded) · included quota · volume discount · percentage of a value ("2.9% per charge") ·
//   billing period · a unit with no price (a clarification) — or unrecognised.
// - Rules: "per 1,000 requests" prices each request at a thousandth (prorated, as AWS and
//   OpenAI bill); only block / pack / bundle / "or part thereof" make a package (rounded up).
//   "First N free" before graduated prices is an included quota; tier bounds count metered
//   units, so they are shifted by the quota when written (the engine counts billable ones).
//   Several flat fees are summed (the engine has one per plan). "Minimum N seats" at a known
//   seat price is a minimum commitment of N × price. A percentage discount needs a threshold:
//   a number ("above 1M") is that metric's metered quantity, money ("over $10K") the plan's
//   usage charge.
// - Never a guess: tiers that say neither graduated nor volume, money with no purpose, a unit
//   with no price, a discount with no threshold, a metric the text does not name, mixed
//   currencies or periods — each is a clarification naming the words and the choices.
//   Components that wait for one are in the plan's `pending`, never in `components`.

import type { MetricAggregation, PlanComponent, Tier } from "../../contracts/catalog";
import type {
  PendingComponent,
  PricingClarification,
  PricingParseResult,
  ProposedMetric,
} from "../../contracts/copilot";
import { divRound, formatScaled, MICROS_PER_UNIT, toNanos } from "../money";
import { type Token, tokenize } from "./tokens";
import {
  ABOVE_WORDS,
  COMPOUNDS,
  DISCOUNT_WORDS,
  FEE_WORDS,
  FREE_WORDS,
  GRADUATED_WORDS,
  MINIMUM_WORDS,
  MONTH_WORDS,
  NOUNS,
  PACKAGE_WORDS,
  POST_QUALIFIERS,
  QUALIFIERS,
  SCALE_WORDS,
  STOP_WORDS,
  THEN_WORDS,
  type UnitNoun,
  VALUE_NOUNS,
  VOLUME_MODEL_WORDS,
  YEAR_WORDS,
} from "./vocabulary";

/** The longest text the parser reads (the route refuses longer). */
export const MAX_PRICING_TEXT = 2000;

type Period = "month" | "year";

type Metric = ProposedMetric;

interface Clause {
  tokens: Token[];
  /** Indexes into `tokens` the grammar used. */
  used: Set<number>;
  text: string;
}

type Bound =
  | { kind: "first"; n: bigint }
  | { kind: "next"; n: bigint }
  | { kind: "upto"; n: bigint }
  | { kind: "above"; n: bigint }
  | { kind: "range"; from: bigint; to: bigint }
  | { kind: "then" }
  | { kind: "none" };

interface RateFact {
  metric: Metric;
  /** Nanos per unit. */
  price: bigint;
  /** A tier's own flat fee (nanos). */
  flatFee: bigint;
  bound: Bound;
  graduated: boolean;
  volume: boolean;
  /** Units the text priced together ("per 1,000"): a package's size if it says "in packs". */
  scale: bigint;
  text: string;
}

/** Everything the clauses said, before it becomes components. */
interface Facts {
  flats: { nanos: bigint; text: string }[];
  minimums: { nanos: bigint; text: string }[];
  minimumUnits: { metric: Metric | null; micros: bigint; text: string }[];
  rates: RateFact[];
  packages: { metric: Metric; size: bigint; price: bigint; text: string }[];
  included: { metric: Metric; micros: bigint; text: string }[];
  discounts: {
    percent: bigint;
    above:
      | { kind: "quantity"; micros: bigint; metric: Metric | null }
      | { kind: "money"; nanos: bigint };
    text: string;
  }[];
  unpriced: { metric: Metric; text: string }[];
  strongPeriods: { period: Period; text: string }[];
  weakPeriods: { period: Period; text: string }[];
  currencies: Map<string, string>;
  metrics: Map<string, Metric>;
  volumeModel: string | null;
}

// ---------------------------------------------------------------------------------------------
// Clauses

const JOINERS = new Set(["and", "plus", "then", "but", "while", "whereas"]);

function splitClauses(tokens: Token[], source: string): Clause[] {
  const clauses: Token[][] = [[]];
  const current = () => clauses[clauses.length - 1] as Token[];
  for (const t of tokens) {
    const here = current();
    // "with" joins a new amount: "… with a $5,000 minimum", "… with a 20% discount".
    const at = tokens.indexOf(t);
    const amount = (x: Token | undefined) => x?.kind === "money" || x?.kind === "percent";
    const withAmount =
      isWord(t, "with") &&
      (amount(tokens[at + 1]) || (isWord(tokens[at + 1], "a", "an") && amount(tokens[at + 2])));
    if (t.kind === "sep" || withAmount || (t.kind === "word" && JOINERS.has(t.word))) {
      // "between 1M and 10M": the "and" is the range's.
      const between = here.findIndex((x) => x.kind === "word" && x.word === "between");
      if (
        t.kind === "word" &&
        t.word === "and" &&
        between >= 0 &&
        here.slice(between).filter((x) => x.kind === "number" || x.kind === "money").length === 1
      ) {
        here.push({ ...t, word: "to" });
        continue;
      }
      if (here.length > 0) clauses.push([]);
      // "then" also says the tiers are graduated: it stays with the clause it opens.
      if (t.kind === "word" && t.word === "then") current().push(t);
      continue;
    }
    here.push(t);
  }
  return clauses
    .filter((c) => c.length > 0)
    .map((c) => ({ tokens: c, used: new Set<number>(), text: spanText(source, c) }));
}

const isWord = (t: Token | undefined, ...words: string[]): boolean =>
  t?.kind === "word" && words.includes(t.word);
const hasWord = (c: Clause, set: ReadonlySet<string>) =>
  c.tokens.some((t) => t.kind === "word" && set.has(t.word));
const hasKind = (c: Clause, kind: Token["kind"]) => c.tokens.some((t) => t.kind === kind);

/** A clause that only bounds something ("for usage above 1M") joins a neighbour that has the
 * money or percentage it bounds. */
function mergeBoundClauses(clauses: Clause[], source: string): Clause[] {
  const anchored = (c: Clause) =>
    hasKind(c, "money") || hasKind(c, "percent") || hasWord(c, FREE_WORDS);
  const boundOnly = (c: Clause) =>
    !anchored(c) &&
    !hasWord(c, MINIMUM_WORDS) &&
    c.tokens.some(
      (t, i) =>
        isWord(t, ...ABOVE_WORDS, "up", "first", "next") && c.tokens[i + 1]?.kind !== "word",
    ) &&
    hasKind(c, "number");
  const out: Clause[] = [];
  for (let i = 0; i < clauses.length; i++) {
    const c = clauses[i] as Clause;
    if (boundOnly(c)) {
      const previous = out[out.length - 1];
      const next = clauses[i + 1];
      if (previous && anchored(previous) && !hasBound(previous)) {
        out[out.length - 1] = join(source, previous, c);
        continue;
      }
      if (next && anchored(next)) {
        clauses[i + 1] = join(source, c, next);
        continue;
      }
    }
    out.push(c);
  }
  return out;
}

const spanText = (source: string, tokens: Token[]) =>
  source.slice(tokens[0]?.at ?? 0, tokens[tokens.length - 1]?.end ?? 0).trim();

/** Two neighbouring clauses as one; the text between them (a comma, "with") is quoted too. */
const join = (source: string, a: Clause, b: Clause): Clause => {
  const tokens = [...a.tokens, ...b.tokens].sort((x, y) => x.at - y.at);
  return { tokens, used: new Set(), text: spanText(source, tokens) };
};

const hasBound = (c: Clause) =>
  c.tokens.some(
    (t, i) =>
      (isWord(t, ...ABOVE_WORDS, "first", "next", "between") ||
        (isWord(t, "up") && isWord(c.tokens[i + 1], "to"))) &&
      (c.tokens[i + 1]?.kind === "number" || c.tokens[i + 2]?.kind === "number"),
  );

// ---------------------------------------------------------------------------------------------
// Reading one clause

interface Reading {
  money: { nanos: bigint; currency: string | null; index: number }[];
  percents: { micros: bigint; index: number }[];
  unit: { metric: Metric; index: number; afterPer: boolean; other: Metric | null } | null;
  /** Units per price ("per 1,000" → 1000). */
  scale: bigint;
  period: Period | null;
  bound: Bound;
  /** Numbers neither a scale nor a bound: quotas, package sizes, minimum units. */
  quantities: { micros: bigint; index: number }[];
  /** A percentage "of" or "per" a value noun: "2.9% per charge". */
  valueNoun: string | null;
}

function metricFor(noun: UnitNoun, qualifier: string | null): Metric {
  const id =
    qualifier && !noun.metric.startsWith(qualifier) ? `${qualifier}_${noun.metric}` : noun.metric;
  return { id, unit: noun.unit, aggregation: noun.aggregation };
}

interface UnitRead {
  metric: Metric;
  index: number;
  scaleNoun: boolean;
  /** The unit follows "per" / "/" / "each" / "every" (a price per it), not only a quantity. */
  afterPer: boolean;
  /** Another unit the clause counts in ("first 10 TB … per GB"). */
  other?: Metric | null;
}

/** Words between "per" and its unit: "per additional million", "per 1,000 input tokens". */
const PER_GAP = new Set(["additional", "extra", "each", "1", "the"]);

function perBefore(t: Token[], i: number): boolean {
  for (let j = i - 1; j >= 0 && j >= i - 4; j--) {
    const x = t[j];
    if (isWord(x, "per", "each", "every")) return true;
    const gap =
      x?.kind === "number" ||
      (x?.kind === "word" &&
        (QUALIFIERS.has(x.word) || PER_GAP.has(x.word) || SCALE_WORDS.has(x.word)));
    if (!gap) return false;
  }
  return false;
}

const singularOf = (w: string) =>
  w.length > 3 && w.endsWith("s") && !w.endsWith("ss") ? w.slice(0, -1) : w;

function readUnit(c: Clause): UnitRead | null {
  const t = c.tokens;
  const candidates: UnitRead[] = [];
  for (let i = 0; i < t.length; i++) {
    const a = t[i];
    if (a?.kind !== "word") continue;
    const b = t[i + 1];
    const compound =
      b?.kind === "word" ? COMPOUNDS.get(`${a.word} ${singularOf(b.word)}`) : undefined;
    const scaleNoun = SCALE_WORDS.get(a.word)?.noun;
    const noun = compound ?? (scaleNoun ? NOUNS.get(scaleNoun) : NOUNS.get(a.word));
    if (!noun) continue;
    // "min" is minutes only after a number or "per"; otherwise it is "minimum".
    if (a.word === "min" && !(t[i - 1]?.kind === "number" || isWord(t[i - 1], "per"))) continue;
    // "We charge $5 per seat": a verb, not the unit.
    if ((a.word === "charge" || a.word === "charges") && t[i + 1]?.kind === "money") continue;
    // A unit word used as a value noun ("2.9% per charge") is read with the percentage.
    if (VALUE_NOUNS.has(a.word) && c.tokens.some((x) => x.kind === "percent")) continue;
    candidates.push({
      metric: metricFor(noun, null),
      index: i,
      scaleNoun: scaleNoun !== undefined,
      afterPer: perBefore(t, i),
    });
    if (compound) i++;
  }
  // "per GB", "per 1,000 requests" name the priced unit; a unit elsewhere only counts.
  const chosen = candidates.find((x) => x.afterPer) ?? candidates[0];
  if (chosen) {
    const i = chosen.index;
    const a = t[i] as { word: string };
    const b = t[i + 1];
    const compound =
      b?.kind === "word" ? COMPOUNDS.get(`${a.word} ${singularOf(b.word)}`) : undefined;
    const base: UnitNoun =
      compound ?? (NOUNS.get(SCALE_WORDS.get(a.word)?.noun ?? a.word) as UnitNoun);
    const qualifier = qualifierOf(c, i, compound ? i + 2 : i + 1, base);
    c.used.add(i);
    if (compound) c.used.add(i + 1);
    // "SMS message", "seats (users)": other words of the same unit say the same thing.
    t.forEach((x, j) => {
      if (x.kind === "word" && NOUNS.get(x.word)?.metric === base.metric) c.used.add(j);
    });
    // "first 10 TB at $0.085 per GB": a quantity in one unit, a price in another.
    const other = candidates.find(
      (x) => x.metric.id !== chosen.metric.id && t[x.index - 1]?.kind === "number",
    );
    return { ...chosen, metric: metricFor(base, qualifier), other: other?.metric ?? null };
  }
  // A unit the vocabulary does not know: the word right after "per" ("$25 per dyno"), or the
  // last of the words right after a quantity ("50K errors", "50,000 map loads"). The text names
  // it, so it is read, not guessed.
  const unknown = (w: string) =>
    !(
      MONTH_WORDS.has(w) ||
      YEAR_WORDS.has(w) ||
      SCALE_WORDS.has(w) ||
      STOP_WORDS.has(w) ||
      FREE_WORDS.has(w) ||
      MINIMUM_WORDS.has(w) ||
      PACKAGE_WORDS.has(w) ||
      FEE_WORDS.has(w) ||
      DISCOUNT_WORDS.has(w) ||
      GRADUATED_WORDS.has(w) ||
      ABOVE_WORDS.has(w) ||
      PER_GAP.has(w) ||
      w === "?"
    );
  for (let i = 0; i < t.length - 1; i++) {
    const after = isWord(t[i], "per") || t[i]?.kind === "number";
    if (!after) continue;
    let j = i + 1;
    while (isWord(t[j], "additional", "extra")) j++;
    const start = j;
    while (t[j]?.kind === "word" && unknown((t[j] as { word: string }).word) && j - start < 2) j++;
    if (j === start) continue;
    const last = j - 1;
    const w = (t[last] as { word: string }).word;
    for (let k = i; k <= last; k++) if (t[k]?.kind === "word") c.used.add(k);
    const unit = singularOf(w);
    const qualifier = last > start ? (t[start] as { word: string }).word : null;
    const id = `${qualifier ? `${qualifier}_` : ""}${unit.endsWith("s") ? unit : `${unit}s`}`;
    return {
      metric: { id, unit, aggregation: "sum" },
      index: last,
      scaleNoun: false,
      afterPer: isWord(t[i], "per"),
    };
  }
  return null;
}

/** "input tokens", "GB stored", "cached input at $0.30 / MTok": the qualifier next to the unit,
 * else (for a unit that is also a scale, "MTok") qualifier words elsewhere in the clause. */
function qualifierOf(c: Clause, at: number, after: number, noun: UnitNoun): string | null {
  const t = c.tokens;
  const before = t[at - 1];
  // "MAU" already means monthly; "monthly active users" too.
  if (noun.metric === "mau" && isWord(before, "monthly")) {
    c.used.add(at - 1);
    return null;
  }
  if (
    before?.kind === "word" &&
    QUALIFIERS.has(before.word) &&
    NOUNS.get(before.word)?.metric !== noun.metric
  ) {
    c.used.add(at - 1);
    const earlier = t[at - 2];
    if (earlier?.kind === "word" && QUALIFIERS.has(earlier.word)) {
      c.used.add(at - 2);
      return `${earlier.word}_${before.word}`;
    }
    return before.word;
  }
  const next = t[after];
  if (next?.kind === "word" && POST_QUALIFIERS.has(next.word)) {
    c.used.add(after);
    return POST_QUALIFIERS.get(next.word) ?? null;
  }
  if (SCALE_WORDS.get((t[at] as { word: string }).word)?.noun === undefined) return null;
  const words: string[] = [];
  t.forEach((x, j) => {
    if (x.kind === "word" && QUALIFIERS.has(x.word) && x.word !== "active") {
      words.push(x.word);
      c.used.add(j);
    }
  });
  return words.length > 0 ? words.slice(0, 2).join("_") : null;
}

function readClause(c: Clause): Reading {
  const t = c.tokens;
  const unit = readUnit(c);
  let scale = 1n;
  if (unit?.scaleNoun)
    scale = SCALE_WORDS.get((t[unit.index] as { word: string }).word)?.scale ?? 1n;
  let period: Period | null = null;
  const scaleIndexes = new Set<number>();
  const boundIndexes = new Set<number>();
  for (let i = 0; i < t.length; i++) {
    const x = t[i];
    if (x === undefined || c.used.has(i)) continue;
    // Scale: "per 1,000", "per 1K", "for every 10,000", "per million", "/1M".
    if (isWord(x, "per", "every", "each") || (isWord(x, "a", "an") && !isWord(t[i - 1], "at"))) {
      // "per additional million": the scale comes after the word.
      const gap = isWord(t[i + 1], "additional", "extra") ? 1 : 0;
      if (gap) c.used.add(i + 1);
      i += gap;
      const n = t[i + 1];
      if (n?.kind === "number" && n.micros % MICROS_PER_UNIT === 0n && n.micros > 0n) {
        scale = n.micros / MICROS_PER_UNIT;
        scaleIndexes.add(i + 1);
        c.used.add(i);
        c.used.add(i + 1);
        continue;
      }
      if (
        n?.kind === "word" &&
        SCALE_WORDS.has(n.word) &&
        SCALE_WORDS.get(n.word)?.noun === undefined
      ) {
        scale = SCALE_WORDS.get(n.word)?.scale ?? 1n;
        c.used.add(i);
        c.used.add(i + 1);
        continue;
      }
    }
    if (x.kind === "word" && (MONTH_WORDS.has(x.word) || YEAR_WORDS.has(x.word))) {
      // "GB-month" is a unit, read above; "monthly active users" too.
      period = MONTH_WORDS.has(x.word) ? "month" : "year";
      c.used.add(i);
      if (isWord(t[i - 1], "per", "a", "an", "every", "each", "billed")) c.used.add(i - 1);
    }
  }
  const bound = readBound(c, boundIndexes);
  const money: Reading["money"] = [];
  const percents: Reading["percents"] = [];
  const quantities: Reading["quantities"] = [];
  t.forEach((x, i) => {
    if (x.kind === "money") money.push({ nanos: x.nanos, currency: x.currency, index: i });
    else if (x.kind === "percent") percents.push({ micros: x.micros, index: i });
    else if (x.kind === "number" && !scaleIndexes.has(i) && !boundIndexes.has(i)) {
      quantities.push({ micros: x.micros, index: i });
    }
  });
  let valueNoun: string | null = null;
  if (percents.length > 0) {
    for (let i = 0; i < t.length - 1; i++) {
      if (!isWord(t[i], "of", "per", "on", "each", "every", "a")) continue;
      let j = i + 1;
      while (isWord(t[j], "the", "each", "every", "a", "successful", "total", "card", "processed"))
        j++;
      const w = t[j];
      if (w?.kind === "word" && VALUE_NOUNS.has(w.word)) {
        valueNoun = w.word;
        for (let k = i; k <= j; k++) c.used.add(k);
        break;
      }
    }
  }
  return {
    money,
    percents,
    unit: unit && {
      metric: unit.metric,
      index: unit.index,
      afterPer: unit.afterPer,
      other: unit.other ?? null,
    },
    scale,
    period,
    bound,
    quantities,
    valueNoun,
  };
}

/** Reads the clause's bound; marks the numbers it uses. */
function readBound(c: Clause, boundIndexes: Set<number>): Bound {
  const t = c.tokens;
  const numberAt = (i: number): bigint | null => {
    // "above 1M", "above the first 1M", "over 1,000,000 tokens"
    for (let j = i; j < Math.min(i + 3, t.length); j++) {
      const x = t[j];
      if (x?.kind === "number") {
        boundIndexes.add(j);
        c.used.add(j);
        return x.micros;
      }
      if (!isWord(x, "the", "first", "a", "of", "than", "to")) return null;
    }
    return null;
  };
  const mark = (i: number) => c.used.add(i);
  for (let i = 0; i < t.length; i++) {
    const x = t[i];
    if (isWord(x, "between", "from")) {
      const a = numberAt(i + 1);
      const toAt = t.findIndex((y, j) => j > i && isWord(y, "to", "through", "until"));
      if (a !== null && toAt > 0) {
        const b = numberAt(toAt + 1);
        if (b !== null) {
          mark(i);
          mark(toAt);
          return { kind: "range", from: a, to: b };
        }
      }
    }
    if (x?.kind === "number" && isWord(t[i + 1], "to") && t[i + 2]?.kind === "number") {
      boundIndexes.add(i);
      boundIndexes.add(i + 2);
      mark(i);
      mark(i + 1);
      mark(i + 2);
      return { kind: "range", from: x.micros, to: (t[i + 2] as { micros: bigint }).micros };
    }
  }
  for (let i = 0; i < t.length; i++) {
    const x = t[i];
    if (isWord(x, "first")) {
      const n = numberAt(i + 1);
      if (n !== null) {
        mark(i);
        return { kind: "first", n };
      }
    }
    if (isWord(x, "next")) {
      const n = numberAt(i + 1);
      if (n !== null) {
        mark(i);
        return { kind: "next", n };
      }
    }
    if (
      (isWord(x, "up") && isWord(t[i + 1], "to")) ||
      isWord(x, "upto", "until", "under", "below")
    ) {
      const n = numberAt(isWord(x, "up") ? i + 2 : i + 1);
      if (n !== null) {
        mark(i);
        if (isWord(x, "up")) mark(i + 1);
        return { kind: "upto", n };
      }
    }
    if (x?.kind === "word" && ABOVE_WORDS.has(x.word)) {
      const n = numberAt(i + 1);
      if (n !== null) {
        mark(i);
        if (isWord(x, "than") && isWord(t[i - 1], "more", "greater")) mark(i - 1);
        return { kind: "above", n };
      }
    }
  }
  for (let i = 0; i < t.length; i++) {
    const x = t[i];
    if (x?.kind === "word" && THEN_WORDS.has(x.word)) {
      mark(i);
      if (isWord(t[i + 1], "that", "this")) mark(i + 1);
      return { kind: "then" };
    }
  }
  return { kind: "none" };
}

// ---------------------------------------------------------------------------------------------
// The parser

class Parser {
  readonly clarifications: PricingClarification[] = [];
  readonly pending: PendingComponent[] = [];
  readonly notes: string[] = [];
  readonly facts: Facts = {
    flats: [],
    minimums: [],
    minimumUnits: [],
    rates: [],
    packages: [],
    included: [],
    discounts: [],
    unpriced: [],
    strongPeriods: [],
    weakPeriods: [],
    currencies: new Map(),
    metrics: new Map(),
    volumeModel: null,
  };
  /** The unit the last priced clause named: "then $0.008" continues it. */
  private lastMetric: Metric | null = null;
  private lastScale = 1n;

  ask(id: string, word: string, question: string, choices: string[]) {
    if (this.clarifications.some((c) => c.id === id)) return;
    this.clarifications.push({ id, word, question, choices });
  }

  private useMetric(m: Metric): Metric {
    const known = this.facts.metrics.get(m.id);
    if (known) return known;
    // "first 50,000 map loads free, then $5 per 1,000 loads": one metric, named once with a
    // qualifier and once without — when exactly one metric of that unit exists.
    const sameUnit = [...this.facts.metrics.values()].filter(
      (x) => x.unit === m.unit || x.unit.endsWith(` ${m.unit}`) || m.unit.endsWith(` ${x.unit}`),
    );
    const bare = (x: Metric) =>
      x.id === `${x.unit}s` || NOUNS.get(x.unit.toLowerCase())?.metric === x.id;
    if (sameUnit.length === 1 && (bare(m) || bare(sameUnit[0] as Metric)))
      return sameUnit[0] as Metric;
    this.facts.metrics.set(m.id, m);
    return m;
  }

  private noteMoney(r: Reading, c: Clause) {
    for (const m of r.money) {
      c.used.add(m.index);
      const currency = m.currency ?? "USD";
      if (!this.facts.currencies.has(currency)) this.facts.currencies.set(currency, c.text);
    }
  }

  readGlobal(tokens: Token[]) {
    tokens.forEach((t, i) => {
      if (isWord(t, "volume")) {
        const next = tokens[i + 1];
        if (next?.kind === "word" && VOLUME_MODEL_WORDS.has(next.word))
          this.facts.volumeModel = "volume pricing";
      }
      if (isWord(t, "all") && isWord(tokens[i + 1], "units", "usage"))
        this.facts.volumeModel = "all units";
      if (isWord(t, "entire", "whole") && isWord(tokens[i + 1], "usage", "volume")) {
        this.facts.volumeModel = `${t.text} ${tokens[i + 1]?.text}`;
      }
    });
  }

  /** `next`: the clause after this one, for "2.9% + 30¢ per charge" (a share of what the next
   * clause prices). */
  clause(c: Clause, next?: Clause) {
    const r = readClause(c);
    if (r.percents.length > 0 && r.valueNoun === null && next) {
      const noun = next.tokens.find((t) => t.kind === "word" && VALUE_NOUNS.has(t.word));
      if (noun?.kind === "word" && !hasWord(c, DISCOUNT_WORDS)) r.valueNoun = noun.word;
    }
    const f = this.facts;
    const words = (set: ReadonlySet<string>) => {
      let found = false;
      c.tokens.forEach((t, i) => {
        if (t.kind === "word" && set.has(t.word)) {
          found = true;
          c.used.add(i);
        }
      });
      return found;
    };
    const isFree =
      words(FREE_WORDS) || this.phrase(c, ["no", "charge"]) || this.phrase(c, ["no", "cost"]);
    const isMinimum =
      words(MINIMUM_WORDS) ||
      this.phrase(c, ["at", "least"]) ||
      this.phrase(c, ["minimum", "spend"]);
    const isPackage = words(PACKAGE_WORDS) || this.phrase(c, ["part", "thereof"]);
    const isDiscount = words(DISCOUNT_WORDS);
    if (isDiscount) words(new Set(["volume", "usage", "spend"]));
    const isFee = words(FEE_WORDS);
    const graduated = c.tokens.some((t) => t.kind === "word" && GRADUATED_WORDS.has(t.word));
    const volumeHere = c.tokens.some(
      (t, i) =>
        isWord(t, "volume") &&
        c.tokens[i + 1]?.kind === "word" &&
        VOLUME_MODEL_WORDS.has((c.tokens[i + 1] as { word: string }).word),
    );
    if (volumeHere) words(new Set(["volume", ...VOLUME_MODEL_WORDS]));
    if (r.period !== null && (this.phrase(c, ["billed"]) || this.phrase(c, ["billing"]))) {
      words(new Set(["billed", "billing", "plan"]));
    }
    this.noteMoney(r, c);

    // Percentage clauses: a volume discount, or a share of a value ("2.9% per charge").
    if (r.percents.length > 0) {
      for (const p of r.percents) c.used.add(p.index);
      const percent = (r.percents[0] as { micros: bigint }).micros;
      if (r.percents.length > 1) {
        this.ask(
          `percent:${c.text}`,
          c.text,
          `"${c.text}" has more than one percentage: which applies?`,
          r.percents.map((p) => `${formatScaled(p.micros, 6)}%`),
        );
        return;
      }
      if (r.valueNoun !== null && !isDiscount) {
        if (percent > 100n * MICROS_PER_UNIT) {
          this.ask(`percent:${c.text}`, c.text, "A percentage of a value cannot exceed 100%", []);
          return;
        }
        const metric = this.useMetric({
          id: `${singular(r.valueNoun)}_value`,
          unit: "currency unit",
          aggregation: "sum",
        });
        // percent micros / 100 → a price per currency unit of value, in nanos.
        f.rates.push({
          metric,
          price: (percent * 1000n) / 100n,
          flatFee: 0n,
          bound: { kind: "none" },
          graduated: false,
          volume: false,
          scale: 1n,
          text: c.text,
        });
        this.notes.push(
          `"${c.text}": a share of each ${singular(r.valueNoun)}'s value is a unit price on the metric ${metric.id}, whose events carry the value in ${[...f.currencies.keys()][0] ?? "the plan currency"}.`,
        );
        if (r.money.length > 0) {
          this.ask(
            `money:${c.text}`,
            c.text,
            `What is ${r.money.map((m) => tokenText(c, m.index)).join(", ")} in "${c.text}" for?`,
            [`a fixed amount per ${singular(r.valueNoun)}`, "a flat fee"],
          );
        }
        return;
      }
      if (!isDiscount && r.valueNoun === null) {
        this.ask(
          `percent:${c.text}`,
          c.text,
          `What is ${formatScaled(percent, 6)}% in "${c.text}"?`,
          ["a volume discount above a threshold", "a share of each transaction's value"],
        );
        return;
      }
      if (percent > 100n * MICROS_PER_UNIT) {
        this.ask(`percent:${c.text}`, c.text, "A discount cannot exceed 100%", []);
        return;
      }
      const b = r.bound;
      const threshold = b.kind === "above" ? b.n : b.kind === "range" ? b.from : null;
      const moneyAbove =
        r.money.length === 1 &&
        (b.kind === "none" || b.kind === "then") &&
        c.tokens.some(
          (t, i) =>
            t.kind === "word" && ABOVE_WORDS.has(t.word) && c.tokens[i + 1]?.kind === "money",
        );
      if (moneyAbove) {
        f.discounts.push({
          percent,
          above: { kind: "money", nanos: (r.money[0] as { nanos: bigint }).nanos },
          text: c.text,
        });
        c.tokens.forEach((t, i) => {
          if (t.kind === "word" && ABOVE_WORDS.has(t.word)) c.used.add(i);
        });
        return;
      }
      if (threshold === null) {
        this.ask(
          `discount-threshold:${c.text}`,
          c.text,
          `Above what does the ${formatScaled(percent, 6)}% discount apply? The engine discounts usage beyond a threshold; a flat percentage off every invoice is a coupon, not a plan component.`,
          [
            "above a quantity (e.g. above 1M tokens)",
            "above an amount of usage charges (e.g. over $10,000)",
          ],
        );
        return;
      }
      if (r.unit) this.lastMetric = this.useMetric(r.unit.metric);
      f.discounts.push({
        percent,
        above: {
          kind: "quantity",
          micros: threshold,
          metric: r.unit ? this.useMetric(r.unit.metric) : null,
        },
        text: c.text,
      });
      return;
    }

    if (
      r.period !== null &&
      r.money.length === 0 &&
      !r.unit &&
      !isFree &&
      !isMinimum &&
      r.quantities.length === 0
    ) {
      f.strongPeriods.push({ period: r.period, text: c.text });
      return;
    }

    // Minimum commitment: an amount, or a number of units at a price the text gives.
    if (isMinimum) {
      if (r.money.length === 1) {
        f.minimums.push({ nanos: (r.money[0] as { nanos: bigint }).nanos, text: c.text });
        if (r.period) f.strongPeriods.push({ period: r.period, text: c.text });
        return;
      }
      if (r.money.length === 0 && r.quantities.length === 1) {
        const q = r.quantities[0] as { micros: bigint; index: number };
        c.used.add(q.index);
        const metric = r.unit ? this.useMetric(r.unit.metric) : this.lastMetric;
        f.minimumUnits.push({ metric, micros: q.micros, text: c.text });
        return;
      }
      if (r.money.length > 1) {
        this.ask(
          `minimum:${c.text}`,
          c.text,
          `Which amount in "${c.text}" is the minimum commitment?`,
          r.money.map((m) => tokenText(c, m.index)),
        );
        return;
      }
    }

    // A unit, no price: "per-token pricing".
    if (r.money.length === 0 && r.unit && !isFree) {
      const metric = this.useMetric(r.unit.metric);
      this.lastMetric = metric;
      if (r.period) f.weakPeriods.push({ period: r.period, text: c.text });
      if (r.quantities.length > 0 || r.bound.kind !== "none") {
        this.ask(`unclear:${c.text}`, c.text, `What does "${c.text}" charge? No price is given.`, [
          `a price per ${metric.unit}`,
          `an included quota of ${metric.unit}s`,
        ]);
        return;
      }
      f.unpriced.push({ metric, text: c.text });
      return;
    }

    // Included quota / free tier: "first 10,000 free", "includes 1M tokens", "free tier of 10k".
    if (isFree && r.money.length === 0) {
      const metric = r.unit ? this.useMetric(r.unit.metric) : this.lastMetric;
      const quantity =
        r.bound.kind === "first" || r.bound.kind === "upto"
          ? r.bound.n
          : r.quantities.length === 1
            ? (r.quantities[0] as { micros: bigint }).micros
            : null;
      for (const q of r.quantities) c.used.add(q.index);
      if (r.period) f.weakPeriods.push({ period: r.period, text: c.text });
      if (quantity === null) {
        this.ask(`included:${c.text}`, c.text, `How much is free in "${c.text}"?`, [
          "a quantity, e.g. 10,000 requests",
        ]);
        return;
      }
      if (metric === null) {
        this.ask(`included-metric:${c.text}`, c.text, `Free quantity of what in "${c.text}"?`, [
          ...f.metrics.keys(),
        ]);
        return;
      }
      this.lastMetric = metric;
      // "first N free" at the head of a ladder is a free tier: it becomes an included quota or
      // (volume model) a zero-priced tier when the ladder is built.
      if (r.bound.kind === "first" || r.bound.kind === "upto") {
        f.rates.push({
          metric,
          price: 0n,
          flatFee: 0n,
          bound: r.bound,
          graduated: true,
          volume: false,
          scale: 1n,
          text: c.text,
        });
      } else f.included.push({ metric, micros: quantity, text: c.text });
      return;
    }

    // "…, sold in packs of 1,000": the price just given is for whole packages.
    const lastRate = f.rates[f.rates.length - 1];
    if (isPackage && r.money.length === 0 && lastRate && lastRate.bound.kind === "none") {
      const size =
        r.quantities.length === 1
          ? (r.quantities[0] as { micros: bigint }).micros
          : lastRate.scale * MICROS_PER_UNIT;
      for (const q of r.quantities) c.used.add(q.index);
      if (size === 0n || (lastRate.price * size) % MICROS_PER_UNIT !== 0n) {
        this.ask(
          `package:${c.text}`,
          c.text,
          `Packages of how many ${lastRate.metric.unit}s, in "${c.text}"?`,
          [`packs of ${lastRate.scale}`],
        );
        return;
      }
      f.rates.pop();
      const price = (lastRate.price * size) / MICROS_PER_UNIT;
      f.packages.push({
        metric: lastRate.metric,
        size,
        price,
        text: `${lastRate.text}, ${c.text}`,
      });
      return;
    }

    if (r.money.length === 0) return; // nothing priced here; its words count as unrecognised

    if (r.money.length > 1) {
      // "first 1,000 calls for a flat $20, then $0.01": a tier's flat fee and its unit price.
      this.ask(
        `money:${c.text}`,
        c.text,
        `"${c.text}" names ${r.money.length} amounts: say each in its own clause (e.g. "$49 per month, $0.01 per request").`,
        r.money.map((m) => tokenText(c, m.index)),
      );
      return;
    }
    const money = r.money[0] as { nanos: bigint; index: number };

    // A fee that includes a quota: "$49/month includes 100k events".
    // "$15 per month for 10,000 emails" too: a quantity of a unit the fee is not "per".
    // Not when the money is a unit price ("€0.50 per 1,000 emails with the first 3,000 free").
    const bundled = (isFree || r.unit !== null) && !r.unit?.afterPer && r.scale === 1n;
    // "$99/mo for up to 10 users": with a period, the bound is the quota (without one, "up to
    // 1,000 calls for a flat $20" is a tier's flat fee, read below).
    const quota =
      r.quantities.length === 1
        ? (r.quantities[0] as { micros: bigint; index: number })
        : r.quantities.length === 0 &&
            r.period !== null &&
            (r.bound.kind === "upto" || r.bound.kind === "first")
          ? { micros: r.bound.n, index: -1 }
          : null;
    if (bundled && (isFee || r.period !== null) && quota !== null) {
      const metric = r.unit ? this.useMetric(r.unit.metric) : this.lastMetric;
      if (metric !== null) {
        c.used.add(quota.index);
        f.flats.push({ nanos: money.nanos, text: c.text });
        if (r.period) f.strongPeriods.push({ period: r.period, text: c.text });
        f.included.push({ metric, micros: quota.micros, text: c.text });
        this.lastMetric = metric;
        return;
      }
    }

    // Package: "$5 per block of 1,000 emails", "1,000 credits per pack at $10".
    if (isPackage) {
      const metric = r.unit ? this.useMetric(r.unit.metric) : this.lastMetric;
      const size =
        r.quantities.length === 1
          ? (r.quantities[0] as { micros: bigint }).micros
          : r.scale > 1n
            ? r.scale * MICROS_PER_UNIT
            : null;
      for (const q of r.quantities) c.used.add(q.index);
      if (metric === null || size === null || size === 0n) {
        this.ask(`package:${c.text}`, c.text, `A package of how many of what, in "${c.text}"?`, [
          "e.g. $5 per block of 1,000 emails",
        ]);
        return;
      }
      this.lastMetric = metric;
      f.packages.push({ metric, size, price: money.nanos, text: c.text });
      return;
    }

    // Unit price, or a tier of a ladder: "$0.002 per 1,000 requests", "then $0.008".
    const continuing =
      !r.unit && (r.bound.kind !== "none" || graduated) && this.lastMetric !== null;
    // "up to 1,000 calls for a flat $20": a tier's own flat fee.
    const tierFee =
      isFee && ["first", "next", "upto", "range"].includes(r.bound.kind) && r.unit !== null;
    const priced =
      r.unit !== null &&
      (r.unit.afterPer || r.scale > 1n || tierFee || !(isFee || r.period !== null));
    if (priced && r.unit?.other && r.bound.kind !== "none") {
      this.ask(
        `units:${c.text}`,
        c.text,
        `"${c.text}" counts in ${r.unit.other.unit} but prices per ${r.unit.metric.unit}: in which unit are the bounds, and how many ${r.unit.metric.unit} make a ${r.unit.other.unit}?`,
        [
          `bounds in ${r.unit.metric.unit}`,
          `1 ${r.unit.other.unit} = 1,000 ${r.unit.metric.unit}`,
          `1 ${r.unit.other.unit} = 1,024 ${r.unit.metric.unit}`,
        ],
      );
      return;
    }
    if (priced || continuing) {
      const metric = r.unit ? this.useMetric(r.unit.metric) : (this.lastMetric as Metric);
      const scale = r.unit || r.scale > 1n ? r.scale : this.lastScale;
      const price = money.nanos / scale;
      if (money.nanos % scale !== 0n) {
        this.ask(
          `precision:${c.text}`,
          c.text,
          `${tokenText(c, money.index)} per ${scale} ${metric.unit}s is finer than a billionth per ${metric.unit}, the engine's precision: which price per ${metric.unit}?`,
          [formatScaled(money.nanos / scale, 9), formatScaled(money.nanos / scale + 1n, 9)],
        );
        return;
      }
      if (r.period) f.weakPeriods.push({ period: r.period, text: c.text });
      if (scale > 1n) {
        this.notes.push(
          `"${c.text}": ${tokenText(c, money.index)} per ${scale.toLocaleString("en-US")} ${metric.unit}s is ${formatScaled(price, 9)} per ${metric.unit}, prorated (not rounded up to whole blocks).`,
        );
      }
      // "$0.50 per 1,000 emails with the first 3,000 free": the bound is the free part.
      if (isFree && (r.bound.kind === "first" || r.bound.kind === "upto")) {
        f.rates.push({
          metric,
          price: 0n,
          flatFee: 0n,
          bound: r.bound,
          graduated: true,
          volume: false,
          scale: 1n,
          text: c.text,
        });
        f.rates.push({
          metric,
          price,
          flatFee: 0n,
          bound: { kind: "then" },
          graduated: true,
          volume: volumeHere,
          scale,
          text: c.text,
        });
        this.lastMetric = metric;
        this.lastScale = scale;
        return;
      }
      const flat = isFee && r.bound.kind !== "none";
      f.rates.push({
        metric,
        price: flat ? 0n : price,
        flatFee: flat ? money.nanos : 0n,
        bound: r.bound,
        graduated,
        volume: volumeHere,
        scale,
        text: c.text,
      });
      this.lastMetric = metric;
      this.lastScale = scale;
      return;
    }

    // A fee: "$2K platform fee", "$49/month", "annual fee of $1,200".
    if (isFee || r.period !== null) {
      f.flats.push({ nanos: money.nanos, text: c.text });
      if (r.period) f.strongPeriods.push({ period: r.period, text: c.text });
      return;
    }

    c.used.delete(money.index);
    this.ask(
      `money:${c.text}`,
      c.text,
      `What is ${tokenText(c, money.index)} in "${c.text}" for?`,
      [
        "a flat fee per billing period",
        "a minimum commitment",
        "a price per unit (say which unit)",
      ],
    );
  }

  private phrase(c: Clause, words: string[]): boolean {
    for (let i = 0; i + words.length <= c.tokens.length; i++) {
      if (words.every((w, j) => isWord(c.tokens[i + j], w))) {
        for (let j = 0; j < words.length; j++) c.used.add(i + j);
        return true;
      }
    }
    return false;
  }
}

const singular = (w: string) => (w.endsWith("s") && w.length > 3 ? w.slice(0, -1) : w);
const tokenText = (c: Clause, i: number) => c.tokens[i]?.text ?? "";
const money = (nanos: bigint) => formatScaled(nanos, 9);
const quantity = (micros: bigint) => formatScaled(micros, 6);

// ---------------------------------------------------------------------------------------------
// Facts → components

interface LadderTier {
  from: bigint;
  to: bigint | null;
  price: bigint;
  flatFee: bigint;
}

function build(p: Parser): { components: PlanComponent[]; period: Period; currency: string } {
  const f = p.facts;
  const components: PlanComponent[] = [];

  // Currency.
  const currencies = [...f.currencies.keys()];
  if (currencies.length > 1) {
    p.ask(
      "currency",
      [...f.currencies.values()].join(" / "),
      "The text names more than one currency; a plan has one. Which?",
      currencies,
    );
  }
  const currency = currencies[0] ?? "USD";

  // Period: fees, commitments and "billed …" decide; usage wording only when they are silent.
  const strong = new Set(f.strongPeriods.map((x) => x.period));
  const weak = new Set(f.weakPeriods.map((x) => x.period));
  let period: Period = "month";
  if (
    strong.size > 1 ||
    (strong.size === 1 && weak.size > 0 && !weak.has([...strong][0] as Period))
  ) {
    p.ask(
      "period",
      [...f.strongPeriods, ...f.weakPeriods].map((x) => x.text).join(" / "),
      "The text mixes monthly and yearly amounts; a plan bills on one period. Bill monthly or yearly?",
      ["month", "year"],
    );
  } else if (strong.size === 1) period = [...strong][0] as Period;
  else if (weak.size === 1) period = [...weak][0] as Period;
  else if (f.flats.length + f.minimums.length > 0) {
    p.notes.push("No billing period is stated: the plan bills monthly.");
  }

  // Flat fee(s): with the period in question, their sum would be a guess.
  const periodAsked = p.clarifications.some((x) => x.id === "period");
  if (f.flats.length > 0 && periodAsked) {
    for (const x of f.flats) {
      p.pending.push({
        clarification: "period",
        missing: ["amount"],
        component: { type: "flat", text: x.text },
      });
    }
  } else if (f.flats.length > 0) {
    const total = f.flats.reduce((s, x) => s + x.nanos, 0n);
    components.push({ type: "flat", amount: money(total) });
    if (f.flats.length > 1) {
      p.notes.push(
        `Flat fees ${f.flats.map((x) => `"${x.text}"`).join(" and ")} are summed into one fee of ${money(total)} ${currency} (a plan has one flat fee).`,
      );
    }
  }

  // Per metric, in the order the text names them.
  const metricIds = [...f.metrics.keys()].filter((id) =>
    [f.rates, f.packages, f.included, f.unpriced].some((list) =>
      list.some((x) => x.metric.id === id),
    ),
  );
  const priced = new Set<string>();
  const pendingMetrics = new Set<string>();
  for (const id of metricIds) {
    const rates = f.rates.filter((r) => r.metric.id === id);
    const packages = f.packages.filter((x) => x.metric.id === id);
    const included = f.included.filter((x) => x.metric.id === id);
    const unpriced = f.unpriced.filter((x) => x.metric.id === id);
    if (included.length > 1) {
      p.ask(
        `included:${id}`,
        included.map((x) => x.text).join(" / "),
        `Two included quotas for ${id}: which one?`,
        included.map((x) => quantity(x.micros)),
      );
      continue;
    }
    let quota = included[0]?.micros ?? 0n;
    const out: PlanComponent[] = [];
    const waiting: Omit<PendingComponent, "clarification">[] = [];
    let clarification: string | null = null;

    // "$0.05 per task, first 100 tasks included": the free head and one plain price are a
    // quota and a unit price, whichever comes first.
    const freeHead = rates.find(
      (r) => r.price === 0n && r.flatFee === 0n && r.bound.kind === "first",
    );
    if (
      freeHead &&
      rates.length === 2 &&
      rates.some((r) => r.bound.kind === "none") &&
      quota === 0n
    ) {
      quota = (freeHead.bound as { n: bigint }).n;
      rates.splice(rates.indexOf(freeHead), 1);
    }
    if (rates.length > 0) {
      const ladder = buildLadder(p, id, rates, quota);
      if (ladder === null) {
        pendingMetrics.add(id);
        continue;
      }
      let tiers = ladder.tiers;
      const graduated = rates.some(
        (r) => r.graduated && !(r.price === 0n && r.bound.kind === "first"),
      );
      const volume = f.volumeModel !== null || rates.some((r) => r.volume);
      // A free head of the ladder is the included quota (graduated) or a zero-priced tier.
      const head = tiers[0];
      if (
        !volume &&
        head &&
        head.price === 0n &&
        head.flatFee === 0n &&
        head.to !== null &&
        tiers.length > 1
      ) {
        if (quota > 0n) {
          p.ask(
            `included:${id}`,
            rates[0]?.text ?? id,
            `Both a free tier and an included quota for ${id}: which one?`,
            [quantity(head.to), quantity(quota)],
          );
          continue;
        }
        quota = head.to;
        tiers = tiers.slice(1);
      }
      if (tiers.length === 1 && tiers[0]?.to === null && tiers[0].flatFee === 0n) {
        out.push({
          type: "per_unit",
          metric: id,
          unit_price: money((tiers[0] as LadderTier).price),
        });
      } else if (tiers[tiers.length - 1]?.to !== null) {
        const top = (tiers[tiers.length - 1] as LadderTier).to as bigint;
        clarification = `above:${id}`;
        p.ask(
          clarification,
          rates.map((r) => r.text).join(" / "),
          `What does ${id} cost above ${quantity(top)}?`,
          [
            `a price per ${rates[0]?.metric.unit} above ${quantity(top)}`,
            "nothing more (free above it)",
          ],
        );
      } else {
        const shifted: Tier[] = tiers.map((t) => ({
          up_to: t.to === null ? null : quantity(t.to - quota),
          unit_price: money(t.price),
          ...(t.flatFee > 0n ? { flat_fee: money(t.flatFee) } : {}),
        }));
        if (volume && graduated) {
          clarification = `mode:${id}`;
          p.ask(
            clarification,
            `${f.volumeModel ?? "volume"} / ${rates.map((r) => r.text).join(" / ")}`,
            `Are the ${id} tiers graduated (each unit at its tier's price) or volume (every unit at the price of the tier the total reaches)?`,
            ["graduated", "volume"],
          );
          waiting.push({
            missing: ["mode"],
            component: { type: "tiered", metric: id, tiers: shifted },
          });
        } else if (!volume && !graduated) {
          clarification = `mode:${id}`;
          p.ask(
            clarification,
            rates.map((r) => r.text).join(" / "),
            `Are the ${id} tiers graduated (each unit at its tier's price, e.g. "first 1M at …, then …") or volume (every unit at the price of the tier the total reaches, "volume pricing")?`,
            ["graduated", "volume"],
          );
          waiting.push({
            missing: ["mode"],
            component: { type: "tiered", metric: id, tiers: shifted },
          });
        } else {
          out.push({
            type: "tiered",
            metric: id,
            mode: volume ? "volume" : "graduated",
            tiers: shifted,
          });
          if (quota > 0n && tiers.some((t) => t.to !== null)) {
            p.notes.push(
              `${id}: tier bounds count billable units, after the ${quantity(quota)} included.`,
            );
          }
        }
      }
    }
    for (const pk of packages) {
      out.push({ type: "package", metric: id, size: quantity(pk.size), price: money(pk.price) });
      p.notes.push(
        `"${pk.text}": a package is billed in whole blocks of ${quantity(pk.size)} (rounded up).`,
      );
    }
    if (out.length === 0 && clarification === null) {
      // A unit with no price ("per-token pricing"), or a quota with nothing priced above it.
      clarification = `price:${id}`;
      const unit = f.metrics.get(id)?.unit ?? id;
      p.ask(
        clarification,
        unpriced[0]?.text ?? included[0]?.text ?? id,
        `What is the price per ${unit}${quota > 0n ? ` above the ${quantity(quota)} included` : ""}? The text does not say.`,
        [`$… per ${unit}`, `$… per 1,000 ${unit}s`, `$… per million ${unit}s`],
      );
      waiting.push({ missing: ["unit_price"], component: { type: "per_unit", metric: id } });
    }
    if (quota > 0n) {
      const inc: PlanComponent = { type: "included", metric: id, quantity: quantity(quota) };
      if (out.length > 0) out.unshift(inc);
      else waiting.unshift({ missing: [], component: inc as PendingComponent["component"] });
    }
    if (out.length > 0) {
      components.push(...out);
      priced.add(id);
    } else pendingMetrics.add(id);
    for (const w of waiting) p.pending.push({ clarification: clarification as string, ...w });
  }

  // Volume discounts.
  for (const d of f.discounts) {
    const pct = formatScaled(d.percent, 6);
    if (d.above.kind === "money") {
      components.push({ type: "discount", above: money(d.above.nanos), percent: pct });
      p.notes.push(
        `"${d.text}": ${pct}% off the part of the usage charge above ${money(d.above.nanos)} ${currency}.`,
      );
      continue;
    }
    const candidates = [...priced, ...pendingMetrics];
    const metric = d.above.metric?.id ?? (candidates.length === 1 ? candidates[0] : null);
    if (!metric) {
      p.ask(
        `discount-metric:${d.text}`,
        d.text,
        `"${d.text}": above ${quantity(d.above.micros)} of which metric?`,
        candidates.length > 0 ? candidates : ["name the unit, e.g. above 1M tokens"],
      );
      continue;
    }
    const component: PlanComponent = {
      type: "discount",
      metric,
      above: quantity(d.above.micros),
      percent: pct,
    };
    const waitFor = p.pending.find((x) => x.component.metric === metric)?.clarification;
    if (!priced.has(metric) && waitFor) {
      p.pending.push({
        clarification: waitFor,
        missing: [],
        component: component as PendingComponent["component"],
      });
    } else if (!priced.has(metric)) {
      p.ask(
        `price:${metric}`,
        d.text,
        `The discount is on ${metric}, which the text does not price: what does it cost?`,
        [`$… per ${metric}`],
      );
    } else {
      components.push(component);
    }
    p.notes.push(
      `"${d.text}": ${pct}% off the ${metric} charge for usage beyond ${quantity(d.above.micros)} ${metric} metered (the engine's volume discount; units up to the threshold keep the full price).`,
    );
  }

  // Minimum commitment.
  const minimums = [...f.minimums.map((m) => ({ nanos: m.nanos, text: m.text }))];
  for (const mu of f.minimumUnits) {
    const per =
      mu.metric && components.find((c) => c.type === "per_unit" && c.metric === mu.metric?.id);
    if (per?.type !== "per_unit") {
      p.ask(
        `minimum:${mu.text}`,
        mu.text,
        `"${mu.text}": a minimum of units needs their unit price to become a commitment in money: at what price?`,
        [`a minimum commitment in ${currency}`],
      );
      continue;
    }
    const nanos = divRound(mu.micros * toNanos(per.unit_price), MICROS_PER_UNIT);
    minimums.push({ nanos, text: mu.text });
    p.notes.push(
      `"${mu.text}": a minimum of ${quantity(mu.micros)} ${mu.metric?.id} at ${per.unit_price} is a minimum commitment of ${money(nanos)} ${currency} per period.`,
    );
  }
  if (minimums.length > 1) {
    p.ask(
      "minimum",
      minimums.map((m) => m.text).join(" / "),
      "More than one minimum commitment: a plan has one. Which?",
      minimums.map((m) => money(m.nanos)),
    );
  } else if (minimums.length === 1) {
    components.push({ type: "minimum", amount: money((minimums[0] as { nanos: bigint }).nanos) });
  }
  return { components, period, currency };
}

/** Puts a metric's rate clauses in ladder order (bounds in metered units). */
function buildLadder(
  p: Parser,
  id: string,
  rates: RateFact[],
  quota: bigint,
): { tiers: LadderTier[] } | null {
  const tiers: LadderTier[] = [];
  // "next" and "first" after an included quota count from the quota.
  let cursor = quota;
  const text = rates.map((r) => r.text).join(" / ");
  for (let i = 0; i < rates.length; i++) {
    const r = rates[i] as RateFact;
    const b = r.bound;
    let from: bigint;
    let to: bigint | null;
    switch (b.kind) {
      case "first":
        from = quota;
        to = quota + b.n;
        if (r.price === 0n) {
          from = 0n;
          to = b.n;
        }
        break;
      case "next":
        from = cursor;
        to = cursor + b.n;
        break;
      case "upto":
        from = cursor;
        to = b.n;
        break;
      case "above":
        from = b.n === cursor + MICROS_PER_UNIT ? cursor : b.n;
        to = null;
        break;
      case "range":
        // "10,001 to 100,000" after "up to 10,000": people count whole units from the next one.
        from = b.from === cursor + MICROS_PER_UNIT ? cursor : b.from;
        to = b.to;
        break;
      case "then":
        from = cursor;
        to = null;
        break;
      case "none": {
        // A plain price followed by bounded ones is the ladder's head: "$0.01 per request,
        // $0.008 above 1M".
        const next = rates[i + 1]?.bound;
        from = cursor;
        to = next?.kind === "above" ? next.n : next?.kind === "range" ? next.from : null;
        if (rates.length > 1 && to === null && i < rates.length - 1) {
          p.ask(
            `price:${id}`,
            text,
            `Two prices for ${id} and no bound between them: which applies where?`,
            rates.map((x) => `${money(x.price)} per unit`),
          );
          return null;
        }
        break;
      }
    }
    if (to !== null && to <= from) {
      p.ask(
        `bounds:${id}`,
        r.text,
        `The ${id} tier "${r.text}" ends at or before it starts: what are its bounds?`,
        [],
      );
      return null;
    }
    tiers.push({ from, to, price: r.price, flatFee: r.flatFee });
    if (to !== null) cursor = to;
  }
  tiers.sort((a, b) => (a.from < b.from ? -1 : a.from > b.from ? 1 : 0));
  // "$0.50 per 1k calls over 100k", "… after the first 10,000": nothing is priced below the
  // first bound, so those units are free — an included quota, said in the notes.
  const first = tiers[0];
  if (
    first &&
    quota === 0n &&
    first.from > 0n &&
    rates.every((r) => r.price > 0n || r.flatFee > 0n)
  ) {
    p.notes.push(
      `${id}: the first ${quantity(first.from)} are not priced by the text, so they are an included quota.`,
    );
    tiers.unshift({ from: 0n, to: first.from, price: 0n, flatFee: 0n });
  }
  let expected = tiers[0]?.from === 0n ? 0n : quota;
  for (const [i, t] of tiers.entries()) {
    if (t.from !== expected || (t.to === null && i < tiers.length - 1)) {
      p.ask(
        `bounds:${id}`,
        text,
        `The ${id} tiers leave a gap or overlap near ${quantity(t.from)}: what is the price between ${quantity(expected)} and ${quantity(t.from)}?`,
        [],
      );
      return null;
    }
    expected = t.to ?? expected;
  }
  return { tiers };
}

// ---------------------------------------------------------------------------------------------

const slug = (s: string) =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 60);

function namesOf(text: string): {
  plan: { id: string; name: string };
  product?: { id: string; name: string };
} {
  const planName = /\b([A-Z][A-Za-z0-9]*(?: [A-Z][A-Za-z0-9]*)?) (?:plan|tier)\b/.exec(text)?.[1];
  const product = /\bfor (?:our |the |my )?([A-Z][\w-]*(?: [A-Z][\w-]*)*)/.exec(text)?.[1];
  const plan =
    planName && slug(planName)
      ? { id: slug(planName), name: planName }
      : { id: "proposed-plan", name: "Proposed plan" };
  return product && slug(product)
    ? { plan, product: { id: slug(product), name: product } }
    : { plan };
}

/** Plain English → a proposal the plan API accepts as it is, clarifications, and confidence. */
export function parsePricing(text: string): PricingParseResult {
  const source = text.slice(0, MAX_PRICING_TEXT);
  const tokens = tokenize(source);
  const p = new Parser();
  p.readGlobal(tokens);
  const clauses = mergeBoundClauses(splitClauses(tokens, source), source);
  clauses.forEach((c, i) => {
    p.clause(c, clauses[i + 1]);
  });
  const { components, period, currency } = build(p);

  // Confidence: the share of meaningful tokens the grammar used, lowered by each question.
  let meaningful = 0;
  let used = 0;
  for (const c of clauses) {
    c.tokens.forEach((t, i) => {
      const counts =
        t.kind !== "sep" && !(t.kind === "word" && STOP_WORDS.has(t.word) && !c.used.has(i));
      if (!counts) return;
      meaningful++;
      if (c.used.has(i)) used++;
    });
  }
  const found = components.length + p.pending.length;
  if (found === 0 && p.clarifications.length === 0) {
    p.ask(
      "no-pricing",
      text.slice(0, 80),
      'I found no prices in this text. Describe fees, unit prices, tiers, quotas or discounts, e.g. "$2K platform fee, $0.002 per 1,000 requests, first 10,000 free".',
      ["a flat fee", "a price per unit", "tiers", "an included quota"],
    );
  }
  const coverage = meaningful === 0 ? 0 : used / meaningful;
  let confidence = coverage * 0.8 ** p.clarifications.length;
  if (found === 0) confidence = Math.min(confidence, 0.1);
  confidence = Math.round(confidence * 100) / 100;

  const names = namesOf(text);
  const usedMetrics = new Set<string>();
  for (const c of [...components, ...p.pending.map((x) => x.component)]) {
    if ("metric" in c && typeof c.metric === "string") usedMetrics.add(c.metric);
  }
  const metrics: ProposedMetric[] = [...p.facts.metrics.values()]
    .filter((m) => usedMetrics.has(m.id))
    .map((m) => ({ id: m.id, unit: m.unit, aggregation: m.aggregation as MetricAggregation }));
  return {
    proposal: {
      ...(names.product ? { product: names.product } : {}),
      metrics,
      plans: [{ ...names.plan, currency, period, components, pending: p.pending }],
      notes: p.notes,
    },
    clarifications: p.clarifications,
    confidence,
  };
}
