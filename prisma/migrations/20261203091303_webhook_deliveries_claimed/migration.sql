-- AlterTable
ALTER TABLE "webhook_deliveries" ALTER COLUMN "status" DROP NOT NULL,
ALTER COLUMN "body" DROP NOT NULL;
