-- signing_keys: the keys the API signs with, one per purpose. The first
-- server that needs a purpose's key inserts a crypto-random one (ON CONFLICT
-- DO NOTHING) and every server reads the row that won, so replicas share it.

-- CreateTable
CREATE TABLE "signing_keys" (
    "purpose" TEXT NOT NULL,
    "key" BYTEA NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "signing_keys_pkey" PRIMARY KEY ("purpose")
);
