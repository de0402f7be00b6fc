/**
 * node:crypto for the bundled CLI (scripts/build.mjs): the configuration imports the HTTP guard,
 * which hashes and compares tokens; stdio never does, and loading node:crypto costs about 3 ms of
 * every start. Loaded on the first call instead.
 */
const crypto = () => require('node:crypto');

export const createHash = (...args) => crypto().createHash(...args);
export const randomUUID = (...args) => crypto().randomUUID(...args);
export const timingSafeEqual = (...args) => crypto().timingSafeEqual(...args);
export const randomBytes = (...args) => crypto().randomBytes(...args);
export const createHmac = (...args) => crypto().createHmac(...args);
