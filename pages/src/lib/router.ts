// A tiny router on the History API: the URL is the single source of truth for what is on
// screen (view, filters, time range, selection), so every view can be bookmarked and shared.
// Views read it with useLocation() and change it with navigate(); parsing and serialising the
// query string are pure functions (url-state.ts).

import { type AnchorHTMLAttributes, h, type TargetedMouseEvent } from "preact";
import { useEffect, useState } from "preact/hooks";

export interface Loc {
  path: string;
  search: URLSearchParams;
  href: string;
}

const listeners = new Set<() => void>();

function current(): Loc {
  return {
    path: location.pathname.replace(/\/+$/, "") || "/",
    search: new URLSearchParams(location.search),
    href: location.pathname + location.search,
  };
}

/** Goes to `href` (same origin). `replace` for changes that should not add a history entry
 * (typing in a filter box). */
export function navigate(href: string, opts: { replace?: boolean } = {}) {
  if (href === location.pathname + location.search) return;
  if (opts.replace) history.replaceState(null, "", href);
  else history.pushState(null, "", href);
  for (const fn of listeners) fn();
}

window.addEventListener("popstate", () => {
  for (const fn of listeners) fn();
});

export function useLocation(): Loc {
  const [loc, setLoc] = useState(current);
  useEffect(() => {
    const fn = () => setLoc(current());
    listeners.add(fn);
    fn();
    return () => {
      listeners.delete(fn);
    };
  }, []);
  return loc;
}

type AnchorProps = AnchorHTMLAttributes<HTMLAnchorElement> & { href: string };

/** An ordinary link (open in new tab, copy address work) that navigates in place on a plain click. */
export function Link(props: AnchorProps) {
  const { href, onClick, ...rest } = props;
  return h("a", {
    ...rest,
    href,
    onClick: (e: TargetedMouseEvent<HTMLAnchorElement>) => {
      if (onClick) (onClick as (ev: typeof e) => void)(e);
      if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey)
        return;
      e.preventDefault();
      navigate(href);
    },
  });
}
