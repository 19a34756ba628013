// One data table for every list in the dashboard: columns are declared as data (header, how a
// row's cell reads, whether it is a number), the table draws the <thead>, the rows and an
// optional footer, so every list wraps, aligns numbers and marks its row header the same way.

import type { ComponentChildren, HTMLAttributes } from "preact";

export interface Column<T> {
  /** The header cell's text; also the column's key unless `key` is given. */
  header: string;
  key?: string;
  /** Right-aligned, tabular figures (`class="num"`), header and cells. */
  num?: boolean;
  /** The row's header cell: `<th scope="row">` instead of `<td>`. */
  rowHeader?: boolean;
  /** Extra classes on every cell of the column ("small", "mono small"). */
  class?: string;
  /** A tooltip on the header cell. */
  title?: string;
  cell: (row: T, index: number) => ComponentChildren;
  /** Attributes of one cell (data-field, title, style). */
  cellProps?: (row: T) => HTMLAttributes<HTMLTableCellElement>;
}

/** A column left out where its condition is false (`show && {...}`). */
export type MaybeColumn<T> = Column<T> | false | null | undefined;

const classOf = (...parts: (string | false | undefined)[]) =>
  parts.filter(Boolean).join(" ") || undefined;

export function DataTable<T>(props: {
  columns: readonly MaybeColumn<T>[];
  rows: readonly T[];
  rowKey: (row: T, index: number) => string | number;
  /** Attributes of a row (data-*, a selected or losing row's class, a title). */
  rowProps?: (
    row: T,
    index: number,
  ) => HTMLAttributes<HTMLTableRowElement> & Record<`data-${string}`, string | undefined>;
  testid?: string;
  /** Read by screen readers only. */
  caption?: string;
  compact?: boolean;
  /** A <tfoot> row's cells (a total). */
  foot?: ComponentChildren;
}) {
  const columns = props.columns.filter((c): c is Column<T> => Boolean(c));
  return (
    <div class="table-wrap">
      <table class={props.compact ? "compact" : undefined} data-testid={props.testid}>
        {props.caption ? <caption class="sr-only">{props.caption}</caption> : null}
        <thead>
          <tr>
            {columns.map((c) => (
              <th
                key={c.key ?? c.header}
                scope="col"
                class={classOf(c.num && "num")}
                title={c.title}
              >
                {c.header}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {props.rows.map((row, i) => (
            <tr key={props.rowKey(row, i)} {...props.rowProps?.(row, i)}>
              {columns.map((c) => {
                const attrs = c.cellProps?.(row) ?? {};
                const cls = classOf(c.num && "num", c.class, attrs.class as string | undefined);
                const content = c.cell(row, i);
                return c.rowHeader ? (
                  <th key={c.key ?? c.header} scope="row" {...attrs} class={cls}>
                    {content}
                  </th>
                ) : (
                  <td key={c.key ?? c.header} {...attrs} class={cls}>
                    {content}
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
        {props.foot ? (
          <tfoot>
            <tr>{props.foot}</tr>
          </tfoot>
        ) : null}
      </table>
    </div>
  );
}
