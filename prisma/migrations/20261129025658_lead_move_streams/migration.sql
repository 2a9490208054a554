-- CreateTable
CREATE TABLE "lead_move_streams" (
    "deletion_id" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "stream" INTEGER NOT NULL,
    "from_position" INTEGER NOT NULL,
    "to_position" INTEGER NOT NULL,
    "cursor" BIGINT NOT NULL,
    "upper_id" BIGINT,
    "moved" INTEGER NOT NULL DEFAULT 0,
    "done" BOOLEAN NOT NULL DEFAULT false,

    CONSTRAINT "lead_move_streams_pkey" PRIMARY KEY ("deletion_id","kind","stream")
);

-- AddForeignKey
ALTER TABLE "lead_move_streams" ADD CONSTRAINT "lead_move_streams_deletion_id_kind_fkey" FOREIGN KEY ("deletion_id", "kind") REFERENCES "lead_moves"("deletion_id", "kind") ON DELETE CASCADE ON UPDATE CASCADE;
