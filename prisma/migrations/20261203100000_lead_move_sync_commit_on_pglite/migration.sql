-- lead_move_run, replaced: its batches commit asynchronously only where that
-- loses nothing a reader saw for longer than a moment.
--
-- On PostgreSQL a batch's commit does not wait for the disk (synchronous_commit
-- off for its transaction alone): should the server crash, the WAL writer has
-- flushed all but the last fraction of a second, and those batches are lost
-- whole with their cursors and redone by the next attempt. The embedded PGlite
-- (`npm start`) runs PostgreSQL as one backend with no WAL writer: nothing
-- flushed those commits until some later synchronous one, and a kill -9 of
-- `npm start` in the middle of a move lost seconds of batches that readers had
-- seen moved (`leads.moved` went backwards: 11,749 before, 4,712 after, in
-- tests/db/embedded-durability). There each batch now commits synchronously.
--
-- Everything else is unchanged (see 20261201050000_lead_move_count_apart_dense_range).

CREATE OR REPLACE PROCEDURE lead_move_run(
  p_deletion_id text, p_kind text, p_stream integer, p_plan integer,
  p_workspace_id text, p_from text, p_to text, p_upper bigint,
  p_size integer, p_min integer, p_max integer, p_target_ms double precision,
  p_limit integer, p_budget_ms double precision,
  -- The stream as the caller last saw it; as the call left it.
  INOUT cursor bigint, INOUT moved integer,
  INOUT done boolean DEFAULT NULL,
  INOUT matched boolean DEFAULT NULL,
  INOUT target_active boolean DEFAULT NULL,
  -- Each committed batch: its leads moved and how long it held its locks (ms).
  INOUT batch_leads integer[] DEFAULT NULL,
  INOUT lock_ms double precision[] DEFAULT NULL,
  -- The size the next batch should have; and the size that followed the last
  -- batch that ran at full size (null when none did): how fast the database is.
  INOUT next_size integer DEFAULT NULL,
  INOUT full_next_size integer DEFAULT NULL)
LANGUAGE plpgsql AS $proc$
DECLARE
  call_started timestamptz := clock_timestamp();
  batch_started timestamptz;
  room integer := p_limit;
  this_size integer;
  n integer;
  ms double precision;
  r record;
  -- Asynchronous commit where a WAL writer flushes it within a fraction of a
  -- second; synchronous on the embedded PGlite, which has none.
  batch_commit text := CASE WHEN version() LIKE '%PGlite%' THEN 'on' ELSE 'off' END;
BEGIN
  IF p_size IS NULL OR p_size < 1 OR p_limit IS NULL OR p_limit < 1 OR p_budget_ms IS NULL OR p_budget_ms < 0 THEN
    RAISE EXCEPTION 'lead_move_run: size % and limit % must be at least 1, budget % at least 0', p_size, p_limit, p_budget_ms
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  done := false;
  matched := true;
  target_active := true;
  batch_leads := '{}';
  lock_ms := '{}';
  next_size := p_size;
  LOOP
    this_size := least(next_size, room);
    batch_started := clock_timestamp();
    WITH locked AS (
      SELECT s.stream, set_config('synchronous_commit', batch_commit, true) FROM lead_move_streams s
      WHERE s.deletion_id = p_deletion_id AND s.kind = p_kind AND s.stream = p_stream
        AND s.cursor = lead_move_run.cursor AND s.moved = lead_move_run.moved AND NOT s.done AND s.plan = p_plan
        AND EXISTS (SELECT 1 FROM users u WHERE u.id = p_to AND u.status = 'ACTIVE')
      FOR UPDATE
    ), batch AS (
      SELECT array_agg(n.id) AS ids, min(n.id) AS first, max(n.id) AS last, count(*)::int AS found,
        lead_move_dense(min(n.id), max(n.id), count(*)) AS dense
      FROM (
        SELECT l.id FROM leads l
        WHERE l.workspace_id = p_workspace_id AND l.owner_id = p_from
          AND l.id > lead_move_run.cursor AND l.id <= p_upper
        ORDER BY l.workspace_id, l.owner_id, l.id LIMIT this_size
      ) n
    ), moved_range AS (
      UPDATE leads l SET owner_id = p_to
      WHERE l.workspace_id = p_workspace_id AND l.owner_id = p_from
        AND l.id >= (SELECT b.first FROM batch b) AND l.id <= (SELECT b.last FROM batch b)
        AND (SELECT b.dense FROM batch b) AND EXISTS (SELECT 1 FROM locked)
      RETURNING l.id
    ), moved_ids AS (
      UPDATE leads l SET owner_id = p_to
      WHERE l.workspace_id = p_workspace_id AND l.owner_id = p_from
        AND l.id = ANY((SELECT b.ids FROM batch b)::bigint[])
        AND (SELECT NOT b.dense FROM batch b) AND EXISTS (SELECT 1 FROM locked)
      RETURNING l.id
    ), counted AS (
      SELECT (SELECT count(*) FROM moved_range)::int + (SELECT count(*) FROM moved_ids)::int AS n
    ), advanced AS (
      UPDATE lead_move_streams st
      SET cursor = COALESCE(b.last, st.cursor), moved = st.moved + c.n,
          done = b.found < this_size OR st.from_position + st.moved + c.n >= st.to_position
      FROM batch b, counted c
      WHERE st.deletion_id = p_deletion_id AND st.kind = p_kind AND st.stream = p_stream AND EXISTS (SELECT 1 FROM locked)
      RETURNING st.cursor AS new_cursor, st.moved AS new_moved, st.done AS new_done
    )
    SELECT a.new_cursor, a.new_moved, a.new_done,
      EXISTS (SELECT 1 FROM users u WHERE u.id = p_to AND u.status = 'ACTIVE') AS active
    INTO r
    FROM counted LEFT JOIN advanced a ON true;
    IF r.new_cursor IS NULL THEN
      -- Another attempt moved this stream on, a cancel closed it, the plan was
      -- rewritten, or the target left: nothing changed; the caller reloads.
      matched := false;
      target_active := r.active;
      RETURN;
    END IF;
    n := r.new_moved - moved;
    -- The move's count, shared by all its streams: its row lock is taken only
    -- now, after the leads' foreign-key checks, and held just to the commit.
    UPDATE lead_moves m SET moved = m.moved + n, batches = m.batches + 1, updated_at = now()
    WHERE m.deletion_id = p_deletion_id AND m.kind = p_kind;
    IF NOT FOUND THEN
      -- Cannot happen while the stream's row exists (it goes with the move's); never count silently wrong.
      RAISE EXCEPTION 'lead_move_run: no move % % for stream %', p_deletion_id, p_kind, p_stream;
    END IF;
    COMMIT;
    ms := extract(epoch FROM clock_timestamp() - batch_started) * 1000;
    batch_leads := batch_leads || n;
    lock_ms := lock_ms || ms;
    room := room - n;
    cursor := r.new_cursor;
    moved := r.new_moved;
    done := r.new_done;
    -- Only a batch that ran at full size and moved all it asked for says how fast the
    -- database is: a short one (a segment's last leads) is fast for its size.
    IF this_size = next_size AND n = this_size THEN
      full_next_size := lead_move_next_size(next_size, ms, p_min, p_max, p_target_ms);
    END IF;
    next_size := lead_move_next_size(next_size, ms, p_min, p_max, p_target_ms);
    EXIT WHEN done OR room <= 0 OR extract(epoch FROM clock_timestamp() - call_started) * 1000 >= p_budget_ms;
  END LOOP;
END
$proc$;
