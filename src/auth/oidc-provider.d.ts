/** The little of oidc-provider's surface flops-mcp uses (the package ships no types); see oauth.ts. */
declare module 'oidc-provider' {
  const Provider: new (issuer: string, configuration: never) => unknown;
  export default Provider;
  export const errors: { InvalidTarget: new (description?: string) => Error };
}
