-- The bulk move's batches of one stream, run in the database: a loop of
-- batches, each ONE statement committed on its own (a crash loses at most the
-- batch in flight, whole, with its cursor), for up to p_budget_ms. The worker
-- calls it once per turn instead of once per batch: the batches follow one
-- another without a round trip to the worker between them, and the worker's
-- CPU (on the same cores) no longer paces them.
--
-- Each batch (the invariants of activities/lead-move/sql.ts):
-- - locks the stream row only if it is still where the caller last saw it
--   (cursor, moved, plan version, not done) and the target is ACTIVE; else
--   it changes nothing and the call returns (matched false; target_active
--   says whether the target left);
-- - reads the next leads past the cursor, in the (workspace_id, owner_id, id)
--   index's own order, never past p_upper nor past p_limit leads in this
--   call (a target's segment or the stream's end);
-- - moves them, and advances the stream and the move's count, in the same
--   commit.
-- Batch sizing: lead_move_next_size, below. A batch's time runs from its
-- statement's start to its commit's end: the foreign-key checks and the
-- commit included, as long as any lead stayed locked.
--
-- A worker killed during a call does not stop it: the call runs on for at
-- most p_budget_ms and one batch, each batch committed; a retry's batch waits
-- for the stream row, then finds the cursor moved on and reloads.

-- The next batch's size after one of `size` held its locks `ms`: shrinks in
-- proportion when it ran more than a quarter past `target_ms`, grows by a
-- quarter when it ran under three quarters of it, always within
-- [min_size, max_size]; target_ms 0 (not adapting) keeps max_size.
CREATE FUNCTION lead_move_next_size(size integer, ms double precision, min_size integer, max_size integer, target_ms double precision)
RETURNS integer LANGUAGE sql IMMUTABLE STRICT AS $fn$
  SELECT CASE
    WHEN target_ms <= 0 THEN max_size
    ELSE least(max_size, greatest(min_size, CASE
      WHEN ms > target_ms * 1.25 THEN floor(size * target_ms / ms)::integer
      WHEN ms < target_ms * 0.75 THEN ceil(size * 1.25)::integer
      ELSE size
    END))
  END
$fn$;

CREATE PROCEDURE lead_move_run(
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
      SELECT s.stream, set_config('synchronous_commit', 'off', true) FROM lead_move_streams s
      WHERE s.deletion_id = p_deletion_id AND s.kind = p_kind AND s.stream = p_stream
        AND s.cursor = lead_move_run.cursor AND s.moved = lead_move_run.moved AND NOT s.done AND s.plan = p_plan
        AND EXISTS (SELECT 1 FROM users u WHERE u.id = p_to AND u.status = 'ACTIVE')
      FOR UPDATE
    ), batch AS (
      SELECT array_agg(n.id) AS ids, max(n.id) AS last, count(*)::int AS found FROM (
        SELECT l.id FROM leads l
        WHERE l.workspace_id = p_workspace_id AND l.owner_id = p_from
          AND l.id > lead_move_run.cursor AND l.id <= p_upper
        ORDER BY l.workspace_id, l.owner_id, l.id LIMIT this_size
      ) n
    ), moved_leads AS (
      UPDATE leads l SET owner_id = p_to
      WHERE l.workspace_id = p_workspace_id AND l.owner_id = p_from
        AND l.id = ANY((SELECT b.ids FROM batch b)::bigint[]) AND EXISTS (SELECT 1 FROM locked)
      RETURNING l.id
    ), counted AS (
      SELECT count(*)::int AS n FROM moved_leads
    ), advanced AS (
      UPDATE lead_move_streams st
      SET cursor = COALESCE(b.last, st.cursor), moved = st.moved + c.n,
          done = b.found < this_size OR st.from_position + st.moved + c.n >= st.to_position
      FROM batch b, counted c
      WHERE st.deletion_id = p_deletion_id AND st.kind = p_kind AND st.stream = p_stream AND EXISTS (SELECT 1 FROM locked)
      RETURNING st.cursor AS new_cursor, st.moved AS new_moved, st.done AS new_done
    ), total AS (
      UPDATE lead_moves m SET moved = m.moved + c.n, batches = m.batches + 1, updated_at = now()
      FROM counted c
      WHERE m.deletion_id = p_deletion_id AND m.kind = p_kind AND EXISTS (SELECT 1 FROM locked)
      RETURNING 1
    )
    SELECT a.new_cursor, a.new_moved, a.new_done, (SELECT count(*) FROM total)::int AS totals,
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
    COMMIT;
    ms := extract(epoch FROM clock_timestamp() - batch_started) * 1000;
    n := r.new_moved - moved;
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
