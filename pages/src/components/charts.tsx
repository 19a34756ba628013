// Charts are Chart.js (tree-shaken to the controllers used here): it draws the donut and bars
// stacked above and below zero (MRR movements) that a time-series-only library cannot. Every
// chart has a text alternative: an aria-label and, where it carries data, a table beside it.

import type { ChartConfiguration } from "chart.js";
import { useEffect, useMemo, useRef } from "preact/hooks";

// Chart.js is loaded on first use (its own chunk, about two thirds of the JavaScript), so
// signing in and the table-only pages do not wait for it.
const loadChart = () => import("./chart-setup").then((m) => m.Chart);

export const COLORS = {
  revenue: "#2563eb",
  cost: "#dc2626",
  margin: "#16a34a",
  neutral: "#64748b",
  good: "#16a34a",
  bad: "#dc2626",
};

export const MOVEMENT_COLORS: Record<string, string> = {
  new: "#16a34a",
  expansion: "#86efac",
  reactivation: "#0ea5e9",
  contraction: "#f59e0b",
  churn: "#dc2626",
};

export const HEALTH_COLORS: Record<string, string> = {
  active: "#16a34a",
  trialing: "#0ea5e9",
  past_due: "#f59e0b",
  at_risk: "#f97316",
  suspended: "#7c3aed",
  canceled: "#94a3b8",
};

// biome-ignore lint/suspicious/noExplicitAny: Chart.js configs are typed per chart type
type AnyConfig = ChartConfiguration<any, any, any>;

export function ChartView(props: {
  config: AnyConfig;
  label: string;
  height?: number;
  class?: string;
}) {
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    let chart: { destroy: () => void } | null = null;
    let gone = false;
    loadChart().then((Chart) => {
      if (!gone && canvas.current) chart = new Chart(canvas.current, props.config);
    });
    return () => {
      gone = true;
      chart?.destroy();
    };
  }, [props.config]);
  return (
    <div class={`chart ${props.class ?? ""}`} style={{ height: `${props.height ?? 240}px` }}>
      <canvas ref={canvas} role="img" aria-label={props.label} />
    </div>
  );
}

/** A tiny line without axes for the KPI tiles. */
export function Sparkline(props: {
  values: (number | null)[];
  labels: string[];
  color: string;
  label: string;
  format: (v: number) => string;
}) {
  const { values, labels, color, format } = props;
  const config = useMemo<AnyConfig>(
    () => ({
      type: "line",
      data: {
        labels,
        datasets: [
          {
            data: values,
            borderColor: color,
            backgroundColor: `${color}22`,
            borderWidth: 1.5,
            pointRadius: 0,
            pointHoverRadius: 3,
            fill: true,
            tension: 0.25,
            spanGaps: true,
          },
        ],
      },
      options: {
        plugins: {
          legend: { display: false },
          tooltip: {
            displayColors: false,
            callbacks: { label: (ctx: { parsed: { y: number } }) => format(ctx.parsed.y) },
          },
        },
        scales: { x: { display: false }, y: { display: false, grace: "5%" } },
        interaction: { intersect: false, mode: "index" },
      },
    }),
    [values, labels, color, format],
  );
  return <ChartView config={config} label={props.label} height={44} class="sparkline" />;
}
