/** The package version, kept in step with package.json by a test. */
export const VERSION = '0.1.0';

/**
 * The Node.js lines this package supports: package.json's `engines.node`, word for word (a test
 * compares them, and checks that every installed dependency, dev tools included, declares support
 * for all of it). Each entry is a minimum within a major line; the last one also covers every
 * later major. Node 20 from 20.19 (Vite 8), 22 from 22.13 (Rolldown's optional bindings), 24 on.
 */
export const NODE_LINES = [
  { major: 20, minor: 19 },
  { major: 22, minor: 13 },
  { major: 24, minor: 0 },
] as const;

/** `^20.19.0 || ^22.13.0 || >=24` */
export const NODE_ENGINES = NODE_LINES.map((line, i) =>
  i === NODE_LINES.length - 1 ? `>=${line.major}` : `^${line.major}.${line.minor}.0`,
).join(' || ');

/** The same range in words: `20.19+, 22.13+ or 24+`. */
export const NODE_SUPPORTED = NODE_LINES.map((line) =>
  line.minor === 0 ? `${line.major}+` : `${line.major}.${line.minor}+`,
)
  .join(', ')
  .replace(/, ([^,]+)$/, ' or $1');

/** Whether a Node.js version (`process.versions.node`) is within NODE_ENGINES. */
export function supportsNode(version: string): boolean {
  const [major = 0, minor = 0] = version.replace(/^v/, '').split('.').map(Number);
  const last = NODE_LINES[NODE_LINES.length - 1]!;
  if (major >= last.major) return major > last.major || minor >= last.minor;
  return NODE_LINES.some((line) => line.major === major && minor >= line.minor);
}
