-- users.frozen_by: who froze a user too big for one wizard (HR, IDP), with no
-- wizard open (client/offboarding.ts); cleared when their wizard opens or they
-- are ACTIVE again.

-- AlterTable
ALTER TABLE "users" ADD COLUMN     "frozen_by" "DeletionSource";
