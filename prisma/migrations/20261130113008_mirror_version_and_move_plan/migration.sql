-- AlterTable
ALTER TABLE "deletions" ADD COLUMN     "version" INTEGER NOT NULL DEFAULT 0;

-- AlterTable
ALTER TABLE "lead_move_streams" ADD COLUMN     "plan" INTEGER NOT NULL DEFAULT 0;

-- Wizards mirrored before `attention` existed show it as null (api.md `Deletion.attention`).
UPDATE "deletions" SET "state" = jsonb_set("state", '{attention}', 'null'::jsonb, true) WHERE NOT ("state" ? 'attention');
