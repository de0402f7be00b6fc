/**
 * node:crypto for the bundled CLI (scripts/build.mjs): the configuration imports the HTTP guard,
 * which hashes and compares tokens; stdio never does, and loading node:crypto costs about 3 ms of
 * every start. Loaded on the first call instead.
 */
let loaded;
const crypto = () => {
  loaded ??= require('node:crypto');
  return loaded;
};

export const createHash = (...args) => crypto().createHash(...args);
export const randomUUID = (...args) => crypto().randomUUID(...args);
export const timingSafeEqual = (...args) => crypto().timingSafeEqual(...args);
export const randomBytes = (...args) => crypto().randomBytes(...args);
export const createHmac = (...args) => crypto().createHmac(...args);
export const createCipheriv = (...args) => crypto().createCipheriv(...args);
export const createDecipheriv = (...args) => crypto().createDecipheriv(...args);
export const hkdfSync = (...args) => crypto().hkdfSync(...args);
export const createPrivateKey = (...args) => crypto().createPrivateKey(...args);
export const createPublicKey = (...args) => crypto().createPublicKey(...args);
