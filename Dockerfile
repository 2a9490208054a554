# One image for every role of the service; docker-compose.yml picks the role
# by command (api/main.ts, worker/main.ts, scripts/db-migrate.ts,
# scripts/temporal-setup.ts). TypeScript runs through tsx, as in development.
FROM node:20-bookworm-slim

WORKDIR /app
# Nothing calls home: no npm update notice, no Prisma CLI update check ("checkpoint").
ENV NODE_ENV=production \
    NPM_CONFIG_UPDATE_NOTIFIER=false \
    PRISMA_HIDE_UPDATE_MESSAGE=1 \
    CHECKPOINT_DISABLE=1

# Dependencies first, so code changes do not reinstall them. Dev dependencies
# stay: the Prisma CLI generates the client and Vite builds the admin page.
COPY package.json package-lock.json ./
RUN npm ci --include=dev --no-audit --no-fund

# The Prisma client (wasm generation; the native engine is never needed).
COPY prisma.config.ts ./
COPY prisma ./prisma
RUN PRISMA_SCHEMA_ENGINE_BINARY=/dev/null npx prisma generate

COPY . .
RUN if [ -f web/vite.config.ts ]; then npm run web:build; fi

USER node
ENV HOST=0.0.0.0 \
    PORT=3000
EXPOSE 3000
CMD ["node", "--import", "tsx", "api/main.ts"]
