import type { ReactNode } from "react";

export interface Column<T> {
  key: string;
  label: string;
  render?: (row: T) => ReactNode;
  num?: boolean;
}

export function DataTable<T extends object>({ rows, columns, rowKey, caption, maxRows = 500, testId }: {
  rows: T[];
  columns: Column<T>[];
  rowKey?: (row: T, i: number) => string | number;
  caption?: string;
  maxRows?: number;
  testId?: string;
}) {
  const shown = rows.slice(0, maxRows);
  return (
    <div className="table-wrap">
      <table data-testid={testId}>
        {caption && <caption>{caption}</caption>}
        <thead>
          <tr>{columns.map((c) => <th key={c.key} className={c.num ? "num" : undefined} scope="col">{c.label}</th>)}</tr>
        </thead>
        <tbody>
          {shown.map((r, i) => (
            <tr key={rowKey ? rowKey(r, i) : i}>
              {columns.map((c) => (
                <td key={c.key} className={c.num ? "num" : undefined}>
                  {c.render ? c.render(r) : String((r as Record<string, unknown>)[c.key] ?? "—")}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
      {rows.length > maxRows && <div className="muted small">showing {maxRows} of {rows.length}</div>}
    </div>
  );
}
