// Search attributes every deletion workflow carries, so admins and the API can
// list wizards by workspace, user, step or status in Temporal's visibility
// store. Pure values: imported by workflows, the client side and the server
// launcher (which registers each key on the dev server).
import { defineSearchAttributeKey } from '@temporalio/common';

export const SEARCH_ATTRIBUTES = {
  DeletionWorkspaceId: 'Keyword',
  DeletionUserId: 'Keyword',
  DeletionStep: 'Keyword',
  DeletionStatus: 'Keyword',
} as const;

export type SearchAttributeName = keyof typeof SEARCH_ATTRIBUTES;

export const DeletionWorkspaceId = defineSearchAttributeKey('DeletionWorkspaceId', 'KEYWORD');
export const DeletionUserId = defineSearchAttributeKey('DeletionUserId', 'KEYWORD');
export const DeletionStep = defineSearchAttributeKey('DeletionStep', 'KEYWORD');
export const DeletionStatus = defineSearchAttributeKey('DeletionStatus', 'KEYWORD');
