-- step_leases: who is sending a large step body to a wizard, one at a time per
-- wizard across every API server (client/step-lease.ts). A lease is taken by
-- an INSERT ... ON CONFLICT that wins only over an expired one.

-- CreateTable
CREATE TABLE "step_leases" (
    "deletion_id" TEXT NOT NULL,
    "holder" TEXT NOT NULL,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "step_leases_pkey" PRIMARY KEY ("deletion_id")
);

-- AddForeignKey
ALTER TABLE "step_leases" ADD CONSTRAINT "step_leases_deletion_id_fkey" FOREIGN KEY ("deletion_id") REFERENCES "deletions"("id") ON DELETE CASCADE ON UPDATE CASCADE;
