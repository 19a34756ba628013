// Reads that travel together: a store query is a prepared statement with the mapping of its rows,
// so a service can run several (of one or more store modules) in one D1 `batch()` — one round
// trip, one consistent snapshot — and still get typed, mapped results.

export interface Query<T> {
  readonly statement: D1PreparedStatement;
  readonly map: (rows: readonly unknown[]) => T;
}

export function query<Row, T>(
  statement: D1PreparedStatement,
  map: (rows: readonly Row[]) => T,
): Query<T> {
  return { statement, map: map as (rows: readonly unknown[]) => T };
}

export type Results<Q extends readonly Query<unknown>[]> = {
  -readonly [K in keyof Q]: Q[K] extends Query<infer T> ? T : never;
};

/** Runs the queries in one D1 batch and maps each one's rows. */
export async function runQueries<const Q extends readonly Query<unknown>[]>(
  db: D1Database,
  queries: Q,
): Promise<Results<Q>> {
  if (queries.length === 0) return [] as unknown as Results<Q>;
  const results = await db.batch(queries.map((q) => q.statement));
  return queries.map((q, i) => q.map(results[i]?.results ?? [])) as Results<Q>;
}

/** Runs one query on its own. */
export async function runQuery<T>(q: Query<T>): Promise<T> {
  const { results } = await q.statement.all();
  return q.map(results);
}
