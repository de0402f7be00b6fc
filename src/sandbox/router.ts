/**
 * Routes derived from the operation table: a request path below `/api/v1/` is matched against each
 * row's path template. A trailing slash is optional; a literal segment beats a `{placeholder}` (so
 * `vm/install/` is install, not `vm/{vmId}/` with vmId "install").
 */
import { type AnyOperation, OPERATIONS, type ToolName } from '../api/operations.js';

type Segment = { literal: string } | { param: string };

interface Route {
  row: AnyOperation;
  segments: Segment[];
  literals: number;
}

export interface RouteMatch {
  tool: ToolName;
  row: AnyOperation;
  pathValues: Record<string, string>;
}

const ROUTES: readonly Route[] = OPERATIONS.map((row) => {
  const segments: Segment[] = row.path
    .split('/')
    .filter((s) => s !== '')
    .map((s) => {
      const m = /^\{(\w+)\}$/.exec(s);
      return m ? { param: m[1]! } : { literal: s };
    });
  return { row, segments, literals: segments.filter((s) => 'literal' in s).length };
});

/** Match a path relative to the API prefix (e.g. `vm/88534/start`); undefined when no row fits. */
export function matchRoute(relativePath: string): RouteMatch | undefined {
  let parts: string[];
  try {
    parts = relativePath
      .split('/')
      .filter((s) => s !== '')
      .map((s) => decodeURIComponent(s));
  } catch {
    return undefined;
  }
  let best: { route: Route; pathValues: Record<string, string> } | undefined;
  for (const route of ROUTES) {
    if (route.segments.length !== parts.length) continue;
    const pathValues: Record<string, string> = {};
    const fits = route.segments.every((segment, i) => {
      if ('literal' in segment) return segment.literal === parts[i];
      pathValues[segment.param] = parts[i]!;
      return true;
    });
    if (fits && (!best || route.literals > best.route.literals)) best = { route, pathValues };
  }
  return best && { tool: best.route.row.tool, row: best.route.row, pathValues: best.pathValues };
}
