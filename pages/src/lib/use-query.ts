// One hook per query: the view names what it wants by a key (usually the request path, which is
// a pure function of the URL state), the hook fetches it, and aborts it when the key changes or
// the view goes away (i.e. on navigation). A reload keeps the last data on screen meanwhile.

import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { type ApiClient, ApiError, isAbort, useApi } from "./api";

export interface QueryResult<T> {
  data: T | undefined;
  error: Error | undefined;
  loading: boolean;
  /** When the data on screen was fetched (epoch ms). */
  fetchedAt: number | undefined;
  reload: () => void;
}

export function useQuery<T>(
  key: string | null,
  fetcher?: (api: ApiClient, signal: AbortSignal) => Promise<T>,
): QueryResult<T> {
  const api = useApi();
  const [state, setState] = useState<{
    key: string | null;
    data?: T;
    error?: Error;
    loading: boolean;
    fetchedAt?: number;
  }>({ key, loading: key !== null });
  const [tick, setTick] = useState(0);
  const fetcherRef = useRef(fetcher);
  fetcherRef.current = fetcher;

  // `tick` forces a reload.
  useEffect(() => {
    if (key === null) {
      setState({ key, loading: false });
      return;
    }
    const controller = new AbortController();
    setState((s) => (s.key === key ? { ...s, loading: true } : { key, loading: true }));
    const run =
      fetcherRef.current ?? ((a: ApiClient, signal: AbortSignal) => a.get<T>(key, signal));
    run(api, controller.signal).then(
      (data) => {
        if (!controller.signal.aborted)
          setState({ key, data, loading: false, fetchedAt: Date.now() });
      },
      (error: unknown) => {
        if (controller.signal.aborted || isAbort(error)) return;
        setState({
          key,
          error: error instanceof Error ? error : new ApiError(0, "unknown", String(error)),
          loading: false,
        });
      },
    );
    return () => controller.abort();
  }, [api, key, tick]);

  const reload = useCallback(() => setTick((t) => t + 1), []);
  // A key change shows the loading state at once, not the previous key's data.
  const current = state.key === key;
  return {
    data: current ? state.data : undefined,
    error: current ? state.error : undefined,
    loading: current ? state.loading : key !== null,
    fetchedAt: current ? state.fetchedAt : undefined,
    reload,
  };
}

export const isNotFound = (err: unknown) => err instanceof ApiError && err.status === 404;
