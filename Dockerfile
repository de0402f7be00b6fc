# flops-mcp over Streamable HTTP in a container.
#
#   docker build -t flops-mcp .
#   docker run --rm -p 8787:8787 \
#     -e FLOPS_MCP_TOKEN=<a long random string> \
#     -e FLOPS_CLIENT_ID=… -e FLOPS_API_KEY=… \
#     flops-mcp
#
# MCP clients then connect to http://localhost:8787/mcp with "Authorization: Bearer <token>".
# FLOPS_MCP_TOKEN is REQUIRED: the server binds 0.0.0.0 in the container, and it refuses to start
# on a non-loopback address without a token (exit code 2, naming FLOPS_MCP_TOKEN).
# Without FLOPS_CLIENT_ID / FLOPS_API_KEY every client must send its own account in the headers
# X-Flops-Client-Id / X-Flops-Api-Key. Requests must name an allowed Host: localhost / 127.0.0.1 on
# the container port; publish it on the same port (-p 8787:8787) or, behind a proxy or under another
# name, set FLOPS_MCP_ALLOWED_HOSTS (and FLOPS_MCP_ALLOWED_ORIGINS for browser clients).
# To try it without an account: docker run --rm -p 8787:8787 -e FLOPS_MCP_TOKEN=… flops-mcp \
#   node dist/cli.cjs --http --sandbox
# Several replicas behind a load balancer: add --stateless.
# Sign-in with OAuth for chat connectors (claude.ai, ChatGPT, Claude Desktop) instead of a token:
#   -e FLOPS_MCP_AUTH=oauth -e FLOPS_MCP_AUTH_KEY=$(openssl rand -base64 32) \
#   -e FLOPS_MCP_PUBLIC_URL=https://mcp.example.com/mcp \
#   -v flops-auth:/home/node/.local/state/flops-mcp     # the sign-in store (or FLOPS_REDIS_URL)

# ---- build: all dependencies, compile ----
FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build

# ---- runtime: production dependencies and the build output only, as an unprivileged user ----
FROM node:20-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY README.md LICENSE ./

# Defaults for HTTP mode (the CMD below passes the same values as flags; flags win over these).
ENV FLOPS_MCP_HOST=0.0.0.0 \
    FLOPS_MCP_PORT=8787 \
    FLOPS_LOG_LEVEL=info

# The image's "node" user (uid 1000), not root.
USER node
EXPOSE 8787

# No curl in the slim image: node asks /healthz (it needs no token). It reads FLOPS_MCP_PORT, so a
# different port is set there (and in CMD's --port).
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.FLOPS_MCP_PORT || 8787) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

CMD ["node", "dist/cli.cjs", "--http", "--host", "0.0.0.0", "--port", "8787"]
