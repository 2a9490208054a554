// Steps 2-4 and the removal at confirm: each one transaction, each written
// once however often it runs (its audit event is the idempotency marker).
import { sameDistribution, suggestWithout } from '../domain/distribution';
import { missingReplacementsProblem } from '../domain/rules';
import { routedItems, routingNow } from '../domain/wizard-state';
import { refusalFailure } from '../domain/refusal';
import { preferredHeirs } from '../domain/heirs';
import type { Actor, Deletion, Distribution, RoutingItem } from '../domain/schemas';
import { jsonBytes, stepSizeProblem } from '../domain/wizard-size';
import { Prisma } from '../generated/prisma/client';
import { currentAttempt, outlivedForGood } from './db-errors';
import { assertTargets, findHeir, namingUser, onceInTransaction, replaceMembers, routingWithUser, routingWithUserHeld, type Db, type Tx } from './shared';

const ROUTING_ACTION = { automations: 'AUTOMATIONS_APPLIED', integrations: 'INTEGRATIONS_APPLIED' } as const;
/** In this order wherever both are held. */
const ROUTING_KINDS = ['automations', 'integrations'] as const;

type Applied = { id: string; distribution: Distribution }[];

/**
 * The most the changed items a routing step reports may weigh: they travel in
 * its result, and replace items of the view, which may then grow by as much
 * (a view at HARD_VIEW_MAX_BYTES, 1.9 MB, stays under Temporal's 2 MB).
 */
const SHOWN_MAX_BYTES = 64_000;

function sameItem(a: RoutingItem, b: RoutingItem): boolean {
  const same = (x: Distribution | null, y: Distribution | null) => (x === null || y === null ? x === y : sameDistribution(x, y));
  return a.name === b.name && a.requiresReplacement === b.requiresReplacement && sameDistribution(a.current, b.current) && same(a.suggested, b.suggested);
}

export function reassignmentActivities(prisma: Db) {
  return {
    /**
     * Steps 2 and 3: gives each automation (or integration) of the step what
     * the step says for it as it is now, not as the wizard listed it when it
     * opened (another leaver's wizard, or an admin, may have changed it
     * since), exactly as the step shows it at that moment (domain
     * `routingNow`, the API's reads at the step):
     * - one that no longer names the user is left as it is (its distribution
     *   is reported as applied): nothing of the user's is left to fix there;
     * - one the admin chose a distribution for gets it;
     * - any other gets its suggestion made from its distribution now; one where
     *   nobody but the user is left who may be picked requires a replacement,
     *   and the step is refused (422) naming it.
     * Items deleted meanwhile are skipped and reported.
     */
    async applyRouting(args: {
      workspaceId: string;
      deletionId: string;
      userId: string;
      kind: 'automations' | 'integrations';
      /** The step's items, as the wizard lists them. */
      ids: string[];
      /** The admin's choices (`overrides`), by item. */
      overrides: Applied;
      actor: Actor;
    }): Promise<{ applied: Applied; shown?: RoutingItem[] }> {
      // Scheduled by a release before `ids`/`overrides`: every item with its choice made (taken as the admin's).
      const old = (args as { choices?: Applied }).choices;
      if (old && !args.ids) args = { ...args, ids: old.map((choice) => choice.id), overrides: old };
      return onceInTransaction(
        prisma,
        { ...args, action: ROUTING_ACTION[args.kind] },
        async (tx) => {
          const { ids } = args;
          // Each one's row held before it is read and its members replaced: another leaver's wizard
          // replacing the same distribution at this moment (a layoff) waits, or is waited for and seen.
          await holdRows(tx, args.kind, args.workspaceId, ids);
          // Then their members' rows and the chosen users' (FOR SHARE, in id order), before any status is read:
          // a member whose wizard is opening at this moment is waited for and seen as unavailable (left out
          // of the suggestion), rather than read ACTIVE here and refused by `assertTargets` below.
          const chosen = args.overrides.flatMap((choice) => choice.distribution.map((member) => member.userId));
          /** Overrides that only repeat what an item left as it is routes to now. */
          const unchecked = new Set<string>();
          const items = await routingWithUserHeld(tx, args.kind, args.workspaceId, args.userId, ids, chosen);
          const now = new Map(items.map((item) => [item.id, item]));
          const view = await mirroredView(tx, args.deletionId);
          const listed = new Map((view?.[args.kind] ?? []).map((item) => [item.id, item]));
          const override = new Map(args.overrides.map((choice) => [choice.id, choice.distribution]));
          const written: Applied = [];
          const asIs: Applied = [];
          const missing: string[] = [];
          const suggestedAgain: string[] = [];
          for (const id of ids) {
            const item = now.get(id);
            if (!item) continue;
            if (!item.current.some((member) => member.userId === args.userId)) {
              asIs.push({ id, distribution: item.current });
              // The admin sent back what it shows (its suggestion is what it routes to): nothing they chose to check.
              const echoed = override.get(id);
              if (echoed && sameDistribution(echoed, item.current)) unchecked.add(id);
              continue;
            }
            const chosenFor = override.get(id);
            if (chosenFor) {
              written.push({ id, distribution: chosenFor });
              continue;
            }
            const shown = listed.get(id);
            const { suggested } = routingNow(shown ?? { ...item, suggested: null, requiresReplacement: false, applied: null }, item, args.userId);
            if (!suggested) {
              missing.push(id);
              continue;
            }
            written.push({ id, distribution: suggested });
            if (!shown?.suggested || !sameDistribution(shown.suggested, suggested)) suggestedAgain.push(id);
          }
          const problem = missingReplacementsProblem(args.kind === 'automations' ? 'automation' : 'integration', missing);
          if (problem) throw refusalFailure(problem);
          // The items that changed since the wizard listed them, as the step found them (before writing): the view
          // keeps them so, not as they were at opening. Only while they weigh little (they travel in the result).
          const changed = ids.flatMap((id) => {
            const shown = listed.get(id);
            if (!shown) return [];
            const found = routingNow(shown, now.get(id), args.userId);
            return sameItem(found, shown) ? [] : [found];
          });
          const shown = changed.length > 0 && jsonBytes(changed) <= SHOWN_MAX_BYTES ? changed : undefined;
          const byId = new Map([...written, ...asIs].map((choice) => [choice.id, choice]));
          const applied = ids.flatMap((id) => byId.get(id) ?? []);
          // The view it leaves must fit in what the wizard carries, with its items as they are now (the
          // validator weighed them as listed): grown since, by thousands of members say, the step's result
          // would pass the 2 MB Temporal records, and Temporal would end the wizard for good. Refused, before
          // anything is written; smaller distributions chosen for some items go through.
          const tooBig = view && stepSizeProblem({ ...view, [args.kind]: routedItems(view, args.kind, applied, shown) }, view);
          if (tooBig) throw refusalFailure(tooBig);
          // Every member the admin named is checked, whether or not their item still needs it.
          const named = args.overrides.filter((choice) => !unchecked.has(choice.id)).flatMap((choice) => choice.distribution.map((member) => member.userId));
          await assertTargets(tx, args.workspaceId, args.userId, [...named, ...written.flatMap((choice) => choice.distribution.map((member) => member.userId))]);
          await replaceMembers(tx, args.kind, written);
          const detail = {
            userId: args.userId,
            count: applied.length,
            applied,
            skippedIds: ids.filter((id) => !now.has(id)),
            // No longer naming the user when the step was applied: left as they were.
            unchangedIds: asIs.map((choice) => choice.id),
            // Their suggestion made again from what they route to now (it differed from the one first listed).
            suggestedAgainIds: suggestedAgain,
          };
          return { result: { applied, ...(shown ? { shown } : {}) }, detail };
        },
        (detail) => ({ applied: (detail as { applied: Applied }).applied }),
      );
    },

    /**
     * Step 4: the user leaves each shared/public label of the step, a
     * replacement (if named) takes their place, and a label they owned passes
     * to the replacement or, where there is none, to the admin who submits.
     */
    async applyLabels(args: {
      workspaceId: string;
      deletionId: string;
      userId: string;
      labelIds: string[];
      replacements: { labelId: string; replacementUserId: string | null }[];
      actor: Actor;
    }): Promise<{ applied: string[] }> {
      return onceInTransaction(
        prisma,
        { ...args, action: 'LABELS_APPLIED' },
        async (tx) => {
          const replacementOf = new Map(args.replacements.map((replacement) => [replacement.labelId, replacement.replacementUserId]));
          await assertTargets(
            tx,
            args.workspaceId,
            args.userId,
            args.replacements.flatMap((replacement) => (replacement.replacementUserId ? [replacement.replacementUserId] : [])),
          );
          // The labels' rows held first, then their members read: another leaver's wizard changing the same
          // label at this moment waits, and this one sees what it wrote.
          await holdRows(tx, 'labels', args.workspaceId, args.labelIds);
          const labels = await tx.label.findMany({
            where: { workspaceId: args.workspaceId, id: { in: args.labelIds } },
            select: { id: true, ownerId: true, members: { select: { userId: true, position: true } } },
          });
          let admin: string | undefined;
          const changes = [];
          for (const label of labels) {
            const replacement = replacementOf.get(label.id) ?? null;
            const change = await handOverLabel(tx, label, args.userId, replacement, async () => {
              admin ??= await findHeir(tx, args.workspaceId, args.userId, preferredHeirs(null, args.actor));
              return admin;
            });
            changes.push(change);
          }
          const applied = changes.map((change) => change.labelId);
          return { result: { applied }, detail: { userId: args.userId, count: applied.length, applied, labels: changes } };
        },
        (detail) => ({ applied: (detail as { applied: string[] }).applied }),
      );
    },

    /**
     * Confirm, after the sweep: re-checks automations, integrations and
     * labels, moves any lead that reached the user since the sweep (inside this
     * transaction, so none can slip in), revokes tokens, deletes private
     * labels, and deletes the user. Records USER_DELETED with every count.
     */
    async removeUser(args: {
      workspaceId: string;
      deletionId: string;
      userId: string;
      actor: Actor;
      /** The step-1 choice: who takes anything still found. */
      fallback: Distribution | null;
    }): Promise<{ leadsMovedAtRemoval: number }> {
      return onceInTransaction(
        prisma,
        { ...args, action: 'USER_DELETED' },
        async (tx) => {
          const { workspaceId, userId } = args;
          // The automations, integrations and labels naming the user held before the user's row, in that
          // order, each in id order: two leavers' confirms sharing one queue there instead of deadlocking
          // (one's rewrite keeps the other as a member, whose row it then waits for; or both delete the
          // same label members, the labels of one and the memberships of the other, in opposite orders).
          for (const kind of ROUTING_KINDS) await holdRouting(tx, kind, workspaceId, userId);
          const labelsOfUser = await tx.label.findMany({
            where: { workspaceId, ...namingUser(userId) },
            select: { id: true },
          });
          // With the labels the labels step gave an admin for want of a replacement: held in the same id order.
          const provisional = await labelsHeldForTheConfirmer(tx, args.deletionId);
          await holdRows(tx, 'labels', workspaceId, [...labelsOfUser.map((label) => label.id), ...provisional.keys()]);
          // Lock the user: a lead or membership written for them now waits for this commit, then fails its FK.
          const [user] = await tx.$queryRaw<{ id: string; name: string; email: string }[]>`
            SELECT id, name, email FROM users WHERE workspace_id = ${workspaceId} AND id = ${userId} FOR UPDATE`;
          if (!user) throw new Error(`User ${userId} vanished before removal without a USER_DELETED record`);
          const heir = await findHeir(tx, workspaceId, userId, preferredHeirs(args.fallback, args.actor));

          const leadsMovedAtRemoval = await tx.lead.updateMany({
            where: { workspaceId, ownerId: userId },
            data: { ownerId: heir },
          });

          const fixed: Record<'automations' | 'integrations', Applied> = { automations: [], integrations: [] };
          for (const kind of ROUTING_KINDS) {
            // Their rows held at the start (no path adds a leaving user as a member, so none names the user only
            // since), their members read now: another leaver's step or confirm replacing one of them at this
            // moment (a layoff) was waited for, and is seen.
            // Their members' statuses read once their rows are held, as the step does.
            for (const item of await routingWithUserHeld(tx, kind, workspaceId, userId)) {
              const distribution = suggestWithout(item.current, userId, new Set(item.unavailable)) ?? [{ userId: heir, weight: 100 }];
              fixed[kind].push({ id: item.id, distribution });
            }
            await replaceMembers(tx, kind, fixed[kind]);
          }

          const privateLabels = await tx.label.findMany({
            where: { workspaceId, ownerId: userId, visibility: 'PRIVATE' },
            select: { id: true },
          });
          await tx.label.deleteMany({ where: { id: { in: privateLabels.map((label) => label.id) } } });
          // wizard.md: a label the user owned passes to its replacement, "or to the confirming admin where
          // there is none". The labels step took effect when it answered, so such a label went to the admin
          // who posted it (or the heir found then); it passes now to the admin confirming, unless it was
          // handed on meanwhile. One the user came to own since the step (the CRM wrote it) has had no
          // replacement either: it goes to the confirming admin too (the heir only when there is none).
          // The confirming admin must still be an active OWNER or ADMIN of the workspace (held so, FOR SHARE:
          // no change of their status or role, nor their removal, until this commits): one demoted,
          // deactivated or removed since the confirm gets no label here, and the labels stay with whoever
          // holds them (a label given to a missing user would fail the removal), or go to the heir.
          const confirmer =
            args.actor.type === 'USER'
              ? await tx.$queryRaw<{ id: string }[]>`
                  SELECT id FROM users WHERE workspace_id = ${workspaceId} AND id = ${args.actor.id} AND id <> ${userId}
                    AND status = 'ACTIVE' AND role IN ('OWNER', 'ADMIN') FOR SHARE`
              : [];
          const labelHeir = confirmer[0]?.id ?? heir;
          const transferred = await tx.label.findMany({ where: { workspaceId, ownerId: userId }, select: { id: true } });
          await tx.label.updateMany({ where: { workspaceId, ownerId: userId }, data: { ownerId: labelHeir } });
          const passed: string[] = [];
          for (const [labelId, heldBy] of confirmer.length === 1 ? provisional : []) {
            if (heldBy === args.actor.id) continue;
            const { count } = await tx.label.updateMany({ where: { id: labelId, workspaceId, ownerId: heldBy }, data: { ownerId: args.actor.id } });
            if (count === 1) passed.push(labelId);
          }
          const memberships = await tx.labelMember.deleteMany({ where: { userId } });
          const tokens = await tx.apiToken.deleteMany({ where: { userId } });
          await tx.user.delete({ where: { id: userId } });

          return {
            result: { leadsMovedAtRemoval: leadsMovedAtRemoval.count },
            detail: {
              userId: user.id,
              name: user.name,
              email: user.email,
              leadsMovedAtRemoval: leadsMovedAtRemoval.count,
              heirUserId: heir,
              automationsFixed: fixed.automations,
              integrationsFixed: fixed.integrations,
              privateLabelsDeleted: privateLabels.map((label) => label.id),
              labelsTransferred: transferred.map((label) => label.id),
              labelsTransferredTo: labelHeir,
              labelsPassedToConfirmingAdmin: passed,
              labelMembershipsRemoved: memberships.count,
              tokensRevoked: tokens.count,
            },
          };
        },
        (detail) => ({ leadsMovedAtRemoval: (detail as { leadsMovedAtRemoval: number }).leadsMovedAtRemoval }),
      ).catch((err: unknown) => {
        // What reached the user after the steps has no bound: a removal too big for one transaction says so.
        throw outlivedForGood(err, currentAttempt());
      });
    },
  };
}

/**
 * The automations, integrations or labels of `ids` in this workspace, each row
 * held (in id order, so two such transactions never wait for each other in a
 * circle; NO KEY: their members' foreign-key checks are not held up).
 */
function holdRows(tx: Tx, table: 'automations' | 'integrations' | 'labels', workspaceId: string, ids: string[]) {
  const held = { automations: Prisma.sql`automations`, integrations: Prisma.sql`integrations`, labels: Prisma.sql`labels` }[table];
  return tx.$queryRaw<{ id: string }[]>`SELECT id FROM ${held} WHERE workspace_id = ${workspaceId} AND id = ANY(${ids}::text[]) ORDER BY id FOR NO KEY UPDATE`;
}

/**
 * The labels the labels step gave an admin because it named no replacement
 * (each with who got it), as its LABELS_APPLIED record says: the admin who
 * confirms takes them (`removeUser`).
 */
async function labelsHeldForTheConfirmer(tx: Tx, deletionId: string): Promise<Map<string, string>> {
  const applied = await tx.auditEvent.findFirst({ where: { deletionId, action: 'LABELS_APPLIED' }, select: { detail: true } });
  const changes = (applied?.detail as { labels?: { labelId: string; replacementUserId: string | null; newOwnerId: string | null }[] } | null)?.labels ?? [];
  return new Map(changes.flatMap((change) => (change.replacementUserId === null && change.newOwnerId !== null ? [[change.labelId, change.newOwnerId] as const] : [])));
}

/** The automations (or integrations) naming the user, held (`holdRows`). */
async function holdRouting(tx: Tx, kind: (typeof ROUTING_KINDS)[number], workspaceId: string, userId: string) {
  await holdRows(tx, kind, workspaceId, (await routingWithUser(tx, kind, workspaceId, userId)).map((item) => item.id));
}

async function handOverLabel(
  tx: Tx,
  label: { id: string; ownerId: string; members: { userId: string; position: number }[] },
  userId: string,
  replacement: string | null,
  admin: () => Promise<string>,
) {
  const wasMember = label.members.some((member) => member.userId === userId);
  if (wasMember) await tx.labelMember.delete({ where: { labelId_userId: { labelId: label.id, userId } } });
  let replacementAdded = false;
  if (replacement && wasMember && !label.members.some((member) => member.userId === replacement)) {
    const position = label.members.find((member) => member.userId === userId)!.position;
    await tx.labelMember.create({ data: { labelId: label.id, userId: replacement, position } });
    replacementAdded = true;
  }
  let newOwnerId: string | null = null;
  if (label.ownerId === userId) {
    newOwnerId = replacement ?? (await admin());
    await tx.label.update({ where: { id: label.id }, data: { ownerId: newOwnerId } });
  }
  return { labelId: label.id, wasMember, replacementUserId: replacement, replacementAdded, newOwnerId };
}

/**
 * The wizard's view as last mirrored (null before its row exists): the step's
 * automations (or integrations) as the wizard lists them, what each routed to
 * when it opened and what it suggested.
 */
async function mirroredView(tx: Tx, deletionId: string): Promise<Deletion | null> {
  const row = await tx.deletion.findUnique({ where: { id: deletionId }, select: { state: true } });
  return (row?.state as Deletion | null) ?? null;
}
