-- A lead's owner is a user of the lead's own workspace, and a user's removal (ON DELETE RESTRICT)
-- checks that no lead is still theirs with one probe of the (workspace_id, owner_id, id) index.
-- Keyed on owner_id alone, that check read the whole leads table (every workspace's) per removal.
-- DropForeignKey
ALTER TABLE "leads" DROP CONSTRAINT "leads_owner_id_fkey";

-- AddForeignKey
ALTER TABLE "leads" ADD CONSTRAINT "leads_workspace_id_owner_id_fkey" FOREIGN KEY ("workspace_id", "owner_id") REFERENCES "users"("workspace_id", "id") ON DELETE RESTRICT ON UPDATE CASCADE;
