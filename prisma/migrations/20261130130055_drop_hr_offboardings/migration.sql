-- DropForeignKey
ALTER TABLE "hr_offboardings" DROP CONSTRAINT "hr_offboardings_workspace_id_fkey";

-- DropTable
DROP TABLE "hr_offboardings";
