-- webhook_deliveries.body_sha256: the hash of the delivery a kept answer was
-- for; the same webhook-id with another body is another message (409), not a
-- retry (api/routes/hook.ts). Null on answers kept before: those replay as before.

-- AlterTable
ALTER TABLE "webhook_deliveries" ADD COLUMN     "body_sha256" TEXT;
